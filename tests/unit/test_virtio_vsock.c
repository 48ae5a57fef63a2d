/* virtio-vsock against the pretend driver, with real Unix sockets in a
 * temporary directory as the host side: both connection directions, data
 * both ways, credit in both directions, back-pressure, orderly and
 * abortive ends, limits, and hostile packets. Guest to guest (AVP-VSOCK-2):
 * RST for CIDs that are not linked, a routed stream against a pretend peer
 * avp, the peer's refusals, streams announced from a linked CID, and two
 * devices routed to each other end to end. The transport's epoll loop is
 * played by pump(), which polls whatever the device asked to watch. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "avp/devices/virtio_rng.h"
#include "avp/devices/virtio_vsock.h"
#include "avp/devices/vsock_route.h"
#include "avp/log.h"
#include "support/vq_harness.h"

#define RXQ_SIZE 256
#define TXQ_SIZE 64
#define RX_BUF 4096 /* what Linux posts */
#define TX_BUF (VSOCK_HDR_LEN + 65536)
#define GUEST_CID 3
#define MAX_WATCH 1024

struct watch {
	int fd;
	uint32_t events;
};

struct fixture {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *dev;
	uint32_t cid;
	bool any_src; /* packets may come from CIDs other than the host's */
	char dir[64];
	char path[128];
	struct watch w[MAX_WATCH];
	unsigned int nw;
	uint64_t rx_gpa[RXQ_SIZE];
	uint64_t tx_gpa[TXQ_SIZE];
	uint32_t guest_buf_alloc;
	uint16_t want_type; /* of every packet but RST; 0: stream */
};

struct rpkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len, flags, buf_alloc, fwd_cnt;
	uint16_t type, op;
	uint8_t data[RX_BUF];
};

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct fixture *f = (struct fixture *)dev->transport;

	for (unsigned int i = 0; i < f->nw; i++)
		if (f->w[i].fd == fd) {
			f->w[i].events = events;
			return 0;
		}
	assert_true(f->nw < MAX_WATCH);
	f->w[f->nw++] = (struct watch){ fd, events };
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	struct fixture *f = (struct fixture *)dev->transport;

	for (unsigned int i = 0; i < f->nw; i++)
		if (f->w[i].fd == fd) {
			f->w[i] = f->w[--f->nw];
			return 0;
		}
	return -ENOENT;
}

/* The transport's device thread: deliver every ready watched fd until
 * nothing is ready. A device that keeps an fd ready without making
 * progress would spin a real epoll loop: that fails here. */
static void pump(struct fixture *f)
{
	for (int iter = 0;; iter++) {
		struct pollfd p[MAX_WATCH];
		unsigned int n = f->nw;
		int ready;

		assert_true(iter < 2000);
		for (unsigned int i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = f->w[i].fd, .events = (short)f->w[i].events };
		ready = poll(p, n, 0);
		assert_true(ready >= 0);
		if (ready == 0)
			return;
		for (unsigned int i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			pthread_mutex_lock(&f->dev->lock);
			f->dev->ops->fd_ready(f->dev, p[i].fd, (uint32_t)p[i].revents);
			pthread_mutex_unlock(&f->dev->lock);
		}
	}
}

static void kick(struct fixture *f, uint16_t q)
{
	vqh_kick(&f->h, f->dev, q);
	pump(f);
}

static void post_rx(struct fixture *f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint16_t slot = f->h.next_desc[VSOCK_RXQ] % RXQ_SIZE;
		struct vqh_buf b = { f->rx_gpa[slot], RX_BUF, true };

		assert_int_equal(vqh_post(&f->h, f->dev, VSOCK_RXQ, &b, 1), slot);
	}
	kick(f, VSOCK_RXQ);
}

struct gpkt {
	uint16_t op;
	uint32_t sport, dport;
	uint32_t flags;
	uint32_t fwd_cnt;
	const void *data;
	uint32_t len;
	/* rarely changed */
	uint16_t type;	    /* 0: stream */
	uint64_t src_cid;   /* 0: the guest's own */
	uint64_t dst_cid;   /* 0: the host */
	uint32_t hdr_len;   /* 0: the header's true length */
	uint32_t claim_len; /* 0: len */
};

/* Posts one tx packet (header and payload in one buffer) and kicks. */
static void tx(struct fixture *f, const struct gpkt *p)
{
	uint16_t slot = f->h.next_desc[VSOCK_TXQ] % TXQ_SIZE;
	uint8_t *buf = vqh_hva(&f->h, f->tx_gpa[slot]);
	struct virtio_vsock_hdr h = {
		.src_cid = htole64(p->src_cid ? p->src_cid : f->cid),
		.dst_cid = htole64(p->dst_cid ? p->dst_cid : VSOCK_HOST_CID),
		.src_port = htole32(p->sport),
		.dst_port = htole32(p->dport),
		.len = htole32(p->claim_len ? p->claim_len : p->len),
		.type = htole16(p->type ? p->type : VIRTIO_VSOCK_TYPE_STREAM),
		.op = htole16(p->op),
		.flags = htole32(p->flags),
		.buf_alloc = htole32(f->guest_buf_alloc),
		.fwd_cnt = htole32(p->fwd_cnt),
	};
	uint32_t hl = p->hdr_len ? p->hdr_len : VSOCK_HDR_LEN;
	struct vqh_buf b = { f->tx_gpa[slot], hl + p->len, false };

	assert_true(p->len <= TX_BUF - VSOCK_HDR_LEN);
	memcpy(buf, &h, hl < sizeof(h) ? hl : sizeof(h));
	if (p->len)
		memcpy(buf + hl, p->data, p->len);
	vqh_post(&f->h, f->dev, VSOCK_TXQ, &b, 1);
	kick(f, VSOCK_TXQ);
}

/* Next packet the device sent to the guest. */
static bool rx(struct fixture *f, struct rpkt *p)
{
	uint32_t id, len;
	struct virtio_vsock_hdr h;

	if (!vqh_used(&f->h, f->dev, VSOCK_RXQ, &id, &len))
		return false;
	assert_true(id < RXQ_SIZE);
	assert_true(len >= VSOCK_HDR_LEN && len <= RX_BUF);
	memcpy(&h, vqh_hva(&f->h, f->rx_gpa[id]), sizeof(h));
	*p = (struct rpkt){
		.src_cid = le64toh(h.src_cid), .dst_cid = le64toh(h.dst_cid),
		.src_port = le32toh(h.src_port), .dst_port = le32toh(h.dst_port),
		.len = le32toh(h.len), .flags = le32toh(h.flags),
		.buf_alloc = le32toh(h.buf_alloc), .fwd_cnt = le32toh(h.fwd_cnt),
		.type = le16toh(h.type), .op = le16toh(h.op),
	};
	assert_int_equal(p->len, len - VSOCK_HDR_LEN);
	if (!f->any_src)
		assert_int_equal(p->src_cid, VSOCK_HOST_CID);
	assert_int_equal(p->dst_cid, f->cid);
	assert_true(p->type == VIRTIO_VSOCK_TYPE_STREAM || p->type == VIRTIO_VSOCK_TYPE_SEQPACKET);
	if (p->op != VIRTIO_VSOCK_OP_RST) /* an RST echoes the type of what it refuses */
		assert_int_equal(p->type, f->want_type ? f->want_type : VIRTIO_VSOCK_TYPE_STREAM);
	memcpy(p->data, (uint8_t *)vqh_hva(&f->h, f->rx_gpa[id]) + VSOCK_HDR_LEN, p->len);
	return true;
}

static void expect_rx(struct fixture *f, struct rpkt *p, uint16_t op)
{
	if (!rx(f, p))
		fail_msg("expected a packet with op %u, got none", op);
	if (p->op != op)
		fail_msg("expected op %u, got op %u (ports %u -> %u)", op, p->op, p->src_port,
			 p->dst_port);
}

static void expect_no_rx(struct fixture *f)
{
	struct rpkt p;

	if (rx(f, &p))
		fail_msg("unexpected packet op %u ports %u -> %u len %u", p.op, p.src_port,
			 p.dst_port, p.len);
}

static int host_socket(const char *path, bool do_connect)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(a.sun_path, path);
	if (do_connect) {
		assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	} else {
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(listen(fd, 8), 0);
	}
	return fd;
}

static void host_write(int fd, const void *data, size_t len)
{
	assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads exactly len bytes (waiting up to 2 s). */
static void host_read(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 2000) != 1)
			fail_msg("host read: only %zu of %zu bytes", got, len);
		n = recv(fd, (char *)buf + got, len - got, 0);
		if (n <= 0)
			fail_msg("host read: %s after %zu of %zu bytes", n ? strerror(errno) : "EOF", got,
				 len);
		got += (size_t)n;
	}
}

/* 1 readable with data, 0 closed (EOF, or a reset when the device closed
 * with our bytes unread), -1 nothing to read now. */
static int host_peek(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	return n > 0 ? 1 : (n == 0 || errno == ECONNRESET) ? 0 : -1;
}

/* A device with guest CID cid and socket DIR/NAME, routed to peers
 * (their sockets in DIR too); dir NULL makes a directory of its own. */
static struct fixture *fixture_new(uint32_t cid, const char *dir, const char *name,
				   const struct avp_vsock_peer *peers, unsigned int npeers)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct avp_vsock_cfg cfg = { .cid = cid, .npeers = npeers };

	assert_non_null(f);
	avp_log_set_level(AVP_LOG_ERROR);
	f->cid = cid;
	if (dir) {
		snprintf(f->dir, sizeof(f->dir), "%s", dir);
	} else {
		strcpy(f->dir, "/tmp/avp-vsock-test.XXXXXX");
		assert_non_null(mkdtemp(f->dir));
	}
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	cfg.socket = f->path;
	for (unsigned int i = 0; i < npeers; i++)
		cfg.peers[i] = peers[i];
	assert_int_equal(virtio_vsock_create(&f->dev, &cfg), 0);
	vqh_init(&f->h, 24u << 20);
	vqh_attach(&f->h, f->dev, true, true);
	vqh_set_watch(&f->h, f->dev, spy_watch, spy_unwatch);
	vqh_setup_queue(&f->h, f->dev, VSOCK_RXQ, RXQ_SIZE);
	vqh_setup_queue(&f->h, f->dev, VSOCK_TXQ, TXQ_SIZE);
	vqh_setup_queue(&f->h, f->dev, VSOCK_EVQ, 16);
	for (unsigned int i = 0; i < RXQ_SIZE; i++)
		f->rx_gpa[i] = vqh_alloc(&f->h, RX_BUF);
	for (unsigned int i = 0; i < TXQ_SIZE; i++)
		f->tx_gpa[i] = vqh_alloc(&f->h, TX_BUF);
	f->guest_buf_alloc = 256 * 1024;
	assert_int_equal(vqh_activate(&f->h, f->dev), 0);
	return f;
}

/* Destroys the device; with rm_dir, also its directory (which must then
 * be empty but for the PATH_PORT sockets tests leave). */
static void fixture_free(struct fixture *f, bool rm_dir)
{
	char p[200];

	f->dev->ops->destroy(f->dev);
	vqh_free(&f->h);
	/* the device removed its socket; tests may leave PATH_PORT ones */
	assert_int_not_equal(access(f->path, F_OK), 0);
	for (unsigned int port = 5000; port < 5010; port++) {
		snprintf(p, sizeof(p), "%s_%u", f->path, port);
		unlink(p);
	}
	if (rm_dir)
		assert_int_equal(rmdir(f->dir), 0);
	free(f);
}

static int setup(void **state)
{
	*state = fixture_new(GUEST_CID, NULL, "v.sock", NULL, 0);
	return 0;
}

/* Linked to CID 4 (a pretend peer avp listens on DIR/peer4.sock when a
 * test makes it) and CID 5 (whose socket never exists). */
#define PEER_CID 4
#define ABSENT_CID 5
static int setup_routed(void **state)
{
	char dir[64] = "/tmp/avp-vsock-test.XXXXXX", p4[128], p5[128];
	struct avp_vsock_peer peers[2] = { { PEER_CID, p4 }, { ABSENT_CID, p5 } };
	struct fixture *f;

	assert_non_null(mkdtemp(dir));
	snprintf(p4, sizeof(p4), "%s/peer4.sock", dir);
	snprintf(p5, sizeof(p5), "%s/peer5.sock", dir);
	f = fixture_new(GUEST_CID, dir, "v.sock", peers, 2);
	f->any_src = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[200];

	snprintf(p, sizeof(p), "%s/peer4.sock", f->dir);
	unlink(p);
	fixture_free(f, true);
	return 0;
}

/* Host connects with CONNECT port; the guest answers. Returns the host
 * fd; *hport is the device's local port for the stream. */
static int host_connect(struct fixture *f, uint32_t port, bool accept, uint32_t *hport)
{
	char line[32];
	struct rpkt p;
	int fd = host_socket(f->path, true);

	snprintf(line, sizeof(line), "CONNECT %u\n", port);
	host_write(fd, line, strlen(line));
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.dst_port, port);
	assert_true(p.src_port >= VSOCK_HOST_PORT_BASE);
	assert_int_equal(p.buf_alloc, VSOCK_BUF_ALLOC);
	*hport = p.src_port;
	tx(f, &(struct gpkt){ .op = accept ? VIRTIO_VSOCK_OP_RESPONSE : VIRTIO_VSOCK_OP_RST,
			       .sport = port, .dport = p.src_port });
	if (accept) {
		char want[32], got[32] = "";

		snprintf(want, sizeof(want), "OK %u\n", p.src_port);
		host_read(fd, got, strlen(want));
		assert_string_equal(got, want);
	}
	return fd;
}

static void test_config_and_features(void **state)
{
	struct fixture *f = *state;
	uint64_t cid;
	struct avp_vsock_cfg bad = { .cid = 2, .socket = f->path };
	struct virtio_dev *d;

	assert_int_equal(f->dev->ops->device_id, 19);
	assert_int_equal(f->dev->ops->num_queues, 3);
	assert_int_equal(f->dev->config_len, 8);
	memcpy(&cid, f->dev->config, 8);
	assert_int_equal(le64toh(cid), GUEST_CID);
	assert_true(f->dev->ops->features(f->dev) & (1ull << VIRTIO_VSOCK_F_STREAM));
	/* seqpacket goes only to linked VMs, and this one has none */
	assert_false(f->dev->ops->features(f->dev) & (1ull << VIRTIO_VSOCK_F_SEQPACKET));
	/* reserved CIDs are refused; so is a second device on a live path */
	assert_int_equal(virtio_vsock_create(&d, &bad), -EINVAL);
	bad.cid = 4;
	assert_int_equal(virtio_vsock_create(&d, &bad), -EADDRINUSE);
	assert_true(access(f->path, F_OK) == 0);
	/* the listener is watched once the driver is up */
	assert_true(f->nw >= 2);
}

static void test_host_to_guest_stream(void **state)
{
	struct fixture *f = *state;
	struct rpkt p;
	uint32_t hport;
	int fd;
	char buf[64] = "";

	post_rx(f, 16);
	/* data right behind the CONNECT line waits for the guest's answer */
	fd = host_socket(f->path, true);
	host_write(fd, "CONNECT 1234\nearly bird", 23);
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.dst_port, 1234);
	hport = p.src_port;
	expect_no_rx(f);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RESPONSE, .sport = 1234, .dport = hport });
	snprintf(buf, sizeof(buf), "OK %u\n", hport);
	{
		char got[32] = "";

		host_read(fd, got, strlen(buf));
		assert_string_equal(got, buf);
	}
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 10);
	assert_memory_equal(p.data, "early bird", 10);
	assert_int_equal(p.src_port, hport);
	assert_int_equal(p.dst_port, 1234);
	assert_int_equal(p.fwd_cnt, 0); /* the OK line is not guest data */

	/* guest to host */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 1234, .dport = hport,
			       .data = "pong!", .len = 5 });
	memset(buf, 0, sizeof(buf));
	host_read(fd, buf, 5);
	assert_string_equal(buf, "pong!");
	/* host to guest again */
	host_write(fd, "more", 4);
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(p.data, "more", 4);
	assert_int_equal(p.fwd_cnt, 5);
	close(fd);
}

static void test_host_connect_refused_and_bad_lines(void **state)
{
	struct fixture *f = *state;
	uint32_t hport;
	int fd;
	char junk[VSOCK_CONNECT_LINE_MAX + 8];

	post_rx(f, 16);
	fd = host_connect(f, 99, false, &hport);
	pump(f);
	assert_int_equal(host_peek(fd), 0); /* closed: nobody listens there */
	close(fd);

	fd = host_socket(f->path, true);
	host_write(fd, "HELLO 1234\n", 11);
	pump(f);
	assert_int_equal(host_peek(fd), 0);
	close(fd);

	fd = host_socket(f->path, true);
	host_write(fd, "CONNECT 99999999999\n", 20);
	pump(f);
	assert_int_equal(host_peek(fd), 0);
	close(fd);

	fd = host_socket(f->path, true);
	memset(junk, 'C', sizeof(junk));
	host_write(fd, junk, sizeof(junk)); /* no newline in sight */
	pump(f);
	assert_int_equal(host_peek(fd), 0);
	close(fd);

	/* a client that hangs up halfway through its line */
	fd = host_socket(f->path, true);
	host_write(fd, "CONN", 4);
	pump(f);
	close(fd);
	pump(f);
	expect_no_rx(f);
}

static void test_guest_to_host_stream(void **state)
{
	struct fixture *f = *state;
	char lpath[160], buf[16] = "";
	struct rpkt p;
	int lfd, fd;

	post_rx(f, 16);
	snprintf(lpath, sizeof(lpath), "%s_5000", f->path);
	lfd = host_socket(lpath, false);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 777, .dport = 5000 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(p.src_port, 5000);
	assert_int_equal(p.dst_port, 777);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 777, .dport = 5000,
			       .data = "hello host", .len = 10 });
	host_read(fd, buf, 10);
	assert_string_equal(buf, "hello host");
	host_write(fd, "hi guest", 8);
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(p.data, "hi guest", 8);
	assert_int_equal(p.fwd_cnt, 10);

	/* nobody at PATH_5001: RST, ports swapped */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 778, .dport = 5001 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_port, 5001);
	assert_int_equal(p.dst_port, 778);
	/* the same stream cannot be requested twice: RST */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 777, .dport = 5000 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	pump(f);
	assert_int_equal(host_peek(fd), 0);
	close(fd);
	close(lfd);
}

static void test_unknown_streams_and_bad_packets(void **state)
{
	struct fixture *f = *state;
	struct rpkt p;

	post_rx(f, 32);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 1, .dport = 2, .data = "x", .len = 1 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_port, 2);
	assert_int_equal(p.dst_port, 1);
	/* an RST is never answered */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RST, .sport = 1, .dport = 2 });
	expect_no_rx(f);
	/* 5.10.6.4: unknown type gets RST; so does seqpacket to the host
	 * (a Unix stream has no records), and of the same type: Linux
	 * ignores an RST of another type, and its connect would hang */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 3, .dport = 4, .type = 2 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	assert_int_equal(p.dst_port, 3);
	/* dropped silently: wrong CID, short header, payload beyond buffer */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 3, .dport = 4, .src_cid = 9 });
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 3, .dport = 4, .hdr_len = 20 });
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 3, .dport = 4, .data = "abc",
			       .len = 3, .claim_len = 100000 });
	tx(f, &(struct gpkt){ .op = 99, .sport = 3, .dport = 4 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST); /* only the unknown op of an unknown stream */
	expect_no_rx(f);
	/* every tx chain came back */
	for (int i = 0; i < 7; i++) {
		uint32_t id, len;

		assert_true(vqh_used(&f->h, f->dev, VSOCK_TXQ, &id, &len));
		assert_int_equal(len, 0);
	}
}

static void test_credit_host_to_guest(void **state)
{
	struct fixture *f = *state;
	static uint8_t big[100000], got[100000];
	struct rpkt p;
	uint32_t hport, total = 0;
	int fd;
	bool asked = false;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + i / 251);
	post_rx(f, 64);
	f->guest_buf_alloc = 8192;
	fd = host_connect(f, 1234, true, &hport);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	assert_true(send(fd, big, sizeof(big), MSG_NOSIGNAL) > 0);
	pump(f);
	while (rx(f, &p)) {
		if (p.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
			asked = true;
			continue;
		}
		assert_int_equal(p.op, VIRTIO_VSOCK_OP_RW);
		memcpy(got + total, p.data, p.len);
		total += p.len;
	}
	/* exactly the guest's buffer, then a request for more credit */
	assert_int_equal(total, 8192);
	assert_true(asked);
	/* the guest read it all: more comes */
	for (int round = 0; total < sizeof(big) && round < 100; round++) {
		tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_CREDIT_UPDATE, .sport = 1234, .dport = hport,
				       .fwd_cnt = total });
		post_rx(f, 8);
		while (rx(f, &p)) {
			if (p.op != VIRTIO_VSOCK_OP_RW)
				continue;
			assert_true(total + p.len <= sizeof(big));
			memcpy(got + total, p.data, p.len);
			total += p.len;
		}
		/* never more than granted */
		assert_true(total % 8192 == 0 || total == sizeof(big));
	}
	assert_int_equal(total, sizeof(big));
	assert_memory_equal(got, big, total);
	close(fd);
}

static void test_slow_host_reader(void **state)
{
	struct fixture *f = *state;
	static uint8_t chunk[32768];
	uint8_t *all, *read_back;
	char lpath[160];
	struct rpkt p;
	int lfd, fd;
	uint32_t sent = 0, fwd_told = 0, budget;
	size_t got = 0;
	int idle = 0;

	post_rx(f, 64);
	snprintf(lpath, sizeof(lpath), "%s_5002", f->path);
	lfd = host_socket(lpath, false);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 900, .dport = 5002 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(p.buf_alloc, VSOCK_BUF_ALLOC);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	all = malloc(16u << 20);
	read_back = malloc(16u << 20);
	/* The guest sends as its credit allows; the host reads nothing. */
	while (idle < 3 && sent < (16u << 20) - sizeof(chunk)) {
		budget = VSOCK_BUF_ALLOC - (sent - fwd_told);
		if (budget >= sizeof(chunk)) {
			for (size_t i = 0; i < sizeof(chunk); i++)
				chunk[i] = all[sent + i] = (uint8_t)((sent + i) * 13 + (sent + i) / 4093);
			tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 900, .dport = 5002,
					       .data = chunk, .len = sizeof(chunk), .fwd_cnt = 0 });
			sent += sizeof(chunk);
			idle = 0;
		} else {
			idle++;
		}
		while (rx(f, &p)) {
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			fwd_told = p.fwd_cnt;
		}
		post_rx(f, 4);
	}
	/* Stalled: what the guest sent is bounded by the socket's buffer
	 * plus the credit we granted, and everything is accounted for. */
	print_message("slow reader: guest stalled after %u bytes, %u forwarded\n", sent, fwd_told);
	assert_true(sent < (16u << 20) - sizeof(chunk));
	assert_true(sent - fwd_told <= VSOCK_BUF_ALLOC);
	assert_true(sent - fwd_told > VSOCK_BUF_ALLOC / 2); /* our buffer was used */
	/* Overrunning the credit resets the stream... later; first the
	 * host drains everything, in order. */
	while (got < sent) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		pump(f);
		while (rx(f, &p))
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		if (poll(&pf, 1, 1000) != 1)
			fail_msg("host got %zu of %u bytes", got, sent);
		n = recv(fd, read_back + got, sent - got, 0);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_memory_equal(read_back, all, sent);
	pump(f);
	free(all);
	free(read_back);
	close(fd);
	close(lfd);
}

static void test_credit_overrun_resets(void **state)
{
	struct fixture *f = *state;
	static uint8_t chunk[65536];
	char lpath[160];
	struct rpkt p;
	int lfd, fd, sz = 4096;

	post_rx(f, 16);
	snprintf(lpath, sizeof(lpath), "%s_5003", f->path);
	lfd = host_socket(lpath, false);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 901, .dport = 5003 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RESPONSE);
	fd = accept(lfd, NULL, NULL);
	/* a tiny host socket buffer, so our own buffer must take the rest */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	for (int i = 0; i < 16; i++) {
		tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 901, .dport = 5003,
				       .data = chunk, .len = sizeof(chunk) });
		if (rx(f, &p) && p.op == VIRTIO_VSOCK_OP_RST)
			break;
	}
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.dst_port, 901);
	close(fd);
	close(lfd);
}

static void test_orderly_shutdown(void **state)
{
	struct fixture *f = *state;
	char lpath[160], buf[8];
	struct rpkt p;
	int lfd, fd;

	post_rx(f, 16);
	snprintf(lpath, sizeof(lpath), "%s_5004", f->path);
	lfd = host_socket(lpath, false);
	for (int round = 0; round < 2; round++) {
		tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 902, .dport = 5004 });
		expect_rx(f, &p, VIRTIO_VSOCK_OP_RESPONSE);
		fd = accept(lfd, NULL, NULL);
		tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 902, .dport = 5004,
				       .data = "last", .len = 4 });
		host_read(fd, buf, 4);
		assert_memory_equal(buf, "last", 4);
		if (round == 1) {
			/* the host half-closes first: SHUTDOWN(SEND) only, the
			 * guest may still send */
			host_write(fd, "bye", 3);
			shutdown(fd, SHUT_WR);
			pump(f);
			expect_rx(f, &p, VIRTIO_VSOCK_OP_RW);
			assert_memory_equal(p.data, "bye", 3);
			expect_rx(f, &p, VIRTIO_VSOCK_OP_SHUTDOWN);
			assert_int_equal(p.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
			expect_no_rx(f);
			tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 902, .dport = 5004,
					       .data = "more", .len = 4 });
			host_read(fd, buf, 4);
			assert_memory_equal(buf, "more", 4);
		}
		/* the guest will send no more: the host sees EOF after the data */
		tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_SHUTDOWN, .sport = 902, .dport = 5004,
				       .flags = VIRTIO_VSOCK_SHUTDOWN_SEND });
		assert_int_equal(recv(fd, buf, 1, 0), 0);
		if (round == 0) {
			/* the host answers, then closes: data, then
			 * SHUTDOWN(RCV|SEND): the guest's next send must fail
			 * (EPIPE), not vanish (issue 18) */
			host_write(fd, "bye", 3);
			close(fd);
			pump(f);
			expect_rx(f, &p, VIRTIO_VSOCK_OP_RW);
			assert_memory_equal(p.data, "bye", 3);
		} else {
			close(fd);
			pump(f);
		}
		expect_rx(f, &p, VIRTIO_VSOCK_OP_SHUTDOWN);
		assert_int_equal(p.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
		expect_no_rx(f);
		/* the guest closes: we answer RST and forget the stream, so
		 * the same ports work again in the next round */
		tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_SHUTDOWN, .sport = 902, .dport = 5004,
				       .flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND });
		expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
		expect_no_rx(f);
	}
	close(lfd);
}

static void test_guest_rst_and_reset(void **state)
{
	struct fixture *f = *state;
	uint32_t h1, h2;
	int a, b;

	post_rx(f, 16);
	a = host_connect(f, 10, true, &h1);
	b = host_connect(f, 11, true, &h2);
	assert_int_not_equal(h1, h2);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RST, .sport = 10, .dport = h1 });
	pump(f);
	assert_int_equal(host_peek(a), 0);
	assert_int_equal(host_peek(b), -1); /* the other stream lives on */
	/* device reset: every stream goes */
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(host_peek(b), 0);
	assert_int_equal(f->nw, 0); /* nothing watched until the driver is back */
	close(a);
	close(b);
}

/* The host's share: VSOCK_HOST_CONNS streams at once. A host client past
 * it is closed once its CONNECT line is read, without OK; a freed slot
 * lets the next one in. */
static void test_many_streams(void **state)
{
	struct fixture *f = *state;
	enum { N = VSOCK_HOST_CONNS + 8 };
	int fds[N], more[8], closed = 0;
	uint32_t requested = 0, ports[N];
	struct rpkt p;

	for (int i = 0; i < N; i++) {
		char line[32];

		fds[i] = host_socket(f->path, true);
		snprintf(line, sizeof(line), "CONNECT %d\n", 20000 + i);
		host_write(fds[i], line, strlen(line));
		if (i % 16 == 15)
			pump(f); /* keep the listen backlog short */
	}
	pump(f);
	for (int round = 0; round < 4; round++) {
		post_rx(f, 128);
		while (rx(f, &p)) {
			assert_int_equal(p.op, VIRTIO_VSOCK_OP_REQUEST);
			ports[requested++] = p.src_port;
			tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RESPONSE, .sport = p.dst_port,
					       .dport = p.src_port });
		}
	}
	assert_int_equal(requested, VSOCK_HOST_CONNS);
	for (int i = 0; i < N; i++)
		closed += host_peek(fds[i]) == 0;
	assert_int_equal(closed, 8);
	/* 8 streams end: 8 new clients get in */
	for (uint32_t i = 0; i < 8; i++)
		tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RST, .sport = 20000 + i,
				       .dport = ports[i] });
	for (int i = 0; i < 8; i++) {
		char line[32];

		more[i] = host_socket(f->path, true);
		snprintf(line, sizeof(line), "CONNECT %d\n", 30000 + i);
		host_write(more[i], line, strlen(line));
	}
	pump(f);
	post_rx(f, 16);
	while (rx(f, &p)) {
		assert_int_equal(p.op, VIRTIO_VSOCK_OP_REQUEST);
		assert_true(p.dst_port >= 30000);
		requested++;
	}
	assert_int_equal(requested, VSOCK_HOST_CONNS + 8);
	for (int i = 0; i < 8; i++)
		close(more[i]);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	pump(f);
}

/* More clients than handshake slots (VSOCK_HANDSHAKE_CONNS) at once: each
 * line read frees a slot, and the listener takes the rest without any
 * stream having to end first. */
static void test_handshake_slots(void **state)
{
	struct fixture *f = *state;
	enum { N = VSOCK_HANDSHAKE_CONNS + 8 };
	int fds[N];
	unsigned int requested = 0;
	struct rpkt p;

	for (int i = 0; i < N; i++) {
		char line[32];

		fds[i] = host_socket(f->path, true);
		snprintf(line, sizeof(line), "CONNECT %d\n", 40000 + i);
		host_write(fds[i], line, strlen(line));
	}
	pump(f);
	post_rx(f, 64);
	while (rx(f, &p)) {
		assert_int_equal(p.op, VIRTIO_VSOCK_OP_REQUEST);
		requested++;
	}
	assert_int_equal(requested, N);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	pump(f);
}

/* Replies to unknown streams are held outside the rx queue only up to a
 * point; then the device stops taking tx packets until the guest gives
 * it rx buffers (5.10.6.1), instead of holding more. */
static void test_rst_backpressure(void **state)
{
	struct fixture *f = *state;
	unsigned int done = 0, rsts = 0;
	uint32_t id, len;
	struct rpkt p;

	for (int i = 0; i < VSOCK_RST_QUEUE + 20; i++) {
		uint16_t slot = f->h.next_desc[VSOCK_TXQ] % TXQ_SIZE;
		uint8_t *buf = vqh_hva(&f->h, f->tx_gpa[slot]);
		struct virtio_vsock_hdr h = {
			.src_cid = htole64(GUEST_CID), .dst_cid = htole64(2),
			.src_port = htole32(100 + i), .dst_port = htole32(7),
			.type = htole16(1), .op = htole16(VIRTIO_VSOCK_OP_RW),
		};
		struct vqh_buf b = { f->tx_gpa[slot], VSOCK_HDR_LEN, false };

		if (i >= TXQ_SIZE)
			break;
		memcpy(buf, &h, sizeof(h));
		vqh_post(&f->h, f->dev, VSOCK_TXQ, &b, 1);
	}
	kick(f, VSOCK_TXQ);
	while (vqh_used(&f->h, f->dev, VSOCK_TXQ, &id, &len))
		done++;
	assert_int_equal(done, VSOCK_RST_QUEUE);
	post_rx(f, 128);
	pump(f);
	while (vqh_used(&f->h, f->dev, VSOCK_TXQ, &id, &len))
		done++;
	while (rx(f, &p)) {
		assert_int_equal(p.op, VIRTIO_VSOCK_OP_RST);
		rsts++;
	}
	assert_int_equal(done, TXQ_SIZE);
	assert_int_equal(rsts, TXQ_SIZE);
}

/* Two streams at once: each gets its own bytes, in order. */
static void test_interleaved_streams(void **state)
{
	struct fixture *f = *state;
	static uint8_t data[2][20000], got[2][20000];
	uint32_t hp[2], total[2] = { 0, 0 };
	int fd[2];
	struct rpkt p;

	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < sizeof(data[s]); i++)
			data[s][i] = (uint8_t)(i * (s ? 3 : 5) + s);
	post_rx(f, 16);
	fd[0] = host_connect(f, 40, true, &hp[0]);
	fd[1] = host_connect(f, 41, true, &hp[1]);
	host_write(fd[0], data[0], sizeof(data[0]));
	host_write(fd[1], data[1], sizeof(data[1]));
	for (int round = 0; round < 50 && (total[0] < 20000 || total[1] < 20000); round++) {
		post_rx(f, 4);
		while (rx(f, &p)) {
			int s = p.dst_port == 41;

			assert_int_equal(p.op, VIRTIO_VSOCK_OP_RW);
			assert_int_equal(p.src_port, hp[s]);
			memcpy(got[s] + total[s], p.data, p.len);
			total[s] += p.len;
		}
	}
	assert_int_equal(total[0], 20000);
	assert_int_equal(total[1], 20000);
	assert_memory_equal(got[0], data[0], 20000);
	assert_memory_equal(got[1], data[1], 20000);
	close(fd[0]);
	close(fd[1]);
}


/* ---- guest to guest (AVP-VSOCK-2) ---- */

/* A CID that is neither the host nor linked gets RST at once, from the
 * address the guest called; nothing is connected anywhere. */
static void test_unlinked_cid_rst(void **state)
{
	struct fixture *f = *state;
	struct rpkt p;

	post_rx(f, 16);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 700, .dport = 6000,
			       .dst_cid = 9 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, 9);
	assert_int_equal(p.src_port, 6000);
	assert_int_equal(p.dst_port, 700);
	/* the guest's own CID is not a route either */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 701, .dport = 6000,
			       .dst_cid = GUEST_CID });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, GUEST_CID);
	/* data for such a CID: RST; an RST: nothing */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 700, .dport = 6000, .dst_cid = 9,
			       .data = "x", .len = 1 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, 9);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RST, .sport = 700, .dport = 6000, .dst_cid = 9 });
	expect_no_rx(f);
	/* a linked VM whose avp is not running (no socket): RST at once */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 702, .dport = 6000,
			       .dst_cid = ABSENT_CID });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, ABSENT_CID);
	assert_int_equal(p.dst_port, 702);
	expect_no_rx(f);
}

/* The pretend peer avp: a listener on the peer's socket. */
static int peer_listen(struct fixture *f)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/peer4.sock", f->dir);
	return host_socket(path, false);
}

/* A pretend peer avp's frames (avp/devices/vsock_route.h). */
static void frame_write(int fd, uint8_t op, uint32_t flags, const void *data, uint32_t len)
{
	struct vsock_frame fr = { .op = op, .flags = htole32(flags), .len = htole32(len) };

	host_write(fd, &fr, sizeof(fr));
	if (len)
		host_write(fd, data, len);
}

/* Reads one frame; its payload (at most cap bytes) into buf. */
static struct vsock_frame frame_read(int fd, void *buf, uint32_t cap)
{
	struct vsock_frame fr;

	host_read(fd, &fr, sizeof(fr));
	fr.flags = le32toh(fr.flags);
	fr.len = le32toh(fr.len);
	if (fr.op == VIRTIO_VSOCK_OP_RW) {
		assert_true(fr.len <= cap);
		host_read(fd, buf, fr.len);
	} else {
		assert_int_equal(fr.len, 0);
	}
	return fr;
}

/* The guest calls CID 4, port 6000 (type 0: a stream): the pretend peer
 * accepts and must read the CONNECT line naming us and the type. Returns
 * the peer's end. */
static int routed_request_type(struct fixture *f, int lfd, uint32_t gport, uint16_t type)
{
	char want[64], got[64] = "";
	struct pollfd pl = { .fd = lfd, .events = POLLIN };
	int fd;

	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = gport, .dport = 6000,
			       .dst_cid = PEER_CID, .type = type });
	expect_no_rx(f); /* nothing for the guest until the peer answers */
	assert_int_equal(poll(&pl, 1, 1000), 1);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	snprintf(want, sizeof(want), "CONNECT 6000 FROM %u %s\n", GUEST_CID,
		 type == VIRTIO_VSOCK_TYPE_SEQPACKET ? "SEQPACKET" : "STREAM");
	host_read(fd, got, strlen(want));
	assert_string_equal(got, want);
	return fd;
}

static int routed_request(struct fixture *f, int lfd, uint32_t gport)
{
	return routed_request_type(f, lfd, gport, 0);
}

static void test_routed_stream(void **state)
{
	struct fixture *f = *state;
	char buf[16] = "";
	struct vsock_frame fr;
	struct rpkt p;
	int lfd, fd;

	assert_true(f->dev->ops->features(f->dev) & (1ull << VIRTIO_VSOCK_F_SEQPACKET));
	post_rx(f, 16);
	lfd = peer_listen(f);
	fd = routed_request(f, lfd, 800);
	/* the peer's guest accepted; its first bytes may follow the OK at once */
	host_write(fd, "OK 1073741824\n", 14);
	frame_write(fd, VIRTIO_VSOCK_OP_RW, 0, "hello", 5);
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(p.src_cid, PEER_CID);
	assert_int_equal(p.src_port, 6000);
	assert_int_equal(p.dst_port, 800);
	assert_int_equal(p.buf_alloc, VSOCK_BUF_ALLOC);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.src_cid, PEER_CID);
	assert_int_equal(p.len, 5);
	assert_int_equal(p.flags, 0);
	assert_memory_equal(p.data, "hello", 5); /* not the OK line, not the frame */
	/* our guest to the peer: a frame of its bytes */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 800, .dport = 6000,
			       .dst_cid = PEER_CID, .data = "world", .len = 5 });
	fr = frame_read(fd, buf, sizeof(buf));
	assert_int_equal(fr.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(fr.len, 5);
	assert_memory_equal(buf, "world", 5);
	/* the same ports to the host are another stream: nobody there, RST */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 800, .dport = 6000 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, VSOCK_HOST_CID);
	/* issue 18: each shutdown reaches the other guest exactly, in order
	 * with the data: the guest's SHUT_RD ... */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_SHUTDOWN, .sport = 800, .dport = 6000,
			       .dst_cid = PEER_CID, .flags = VIRTIO_VSOCK_SHUTDOWN_RCV });
	fr = frame_read(fd, buf, sizeof(buf));
	assert_int_equal(fr.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(fr.flags, VIRTIO_VSOCK_SHUTDOWN_RCV);
	/* (said once: a repeat is not sent again) */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_SHUTDOWN, .sport = 800, .dport = 6000,
			       .dst_cid = PEER_CID, .flags = VIRTIO_VSOCK_SHUTDOWN_RCV });
	assert_int_equal(host_peek(fd), -1);
	/* ... the other guest's close: data, then SHUTDOWN(RCV|SEND) */
	frame_write(fd, VIRTIO_VSOCK_OP_RW, 0, "bye", 3);
	frame_write(fd, VIRTIO_VSOCK_OP_SHUTDOWN,
		    VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(p.data, "bye", 3);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(p.src_cid, PEER_CID);
	assert_int_equal(p.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	expect_no_rx(f);
	/* our guest closes too: the peer hears it, and no RST comes from
	 * us: the other guest answers (its avp closes the socket) */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_SHUTDOWN, .sport = 800, .dport = 6000,
			       .dst_cid = PEER_CID,
			       .flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND });
	fr = frame_read(fd, buf, sizeof(buf));
	assert_int_equal(fr.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(fr.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	expect_no_rx(f);
	close(fd);
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, PEER_CID);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 800, .dport = 6000,
			       .dst_cid = PEER_CID, .data = "late", .len = 4 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST); /* unknown stream now */
	close(lfd);
}

/* Issue 18: seqpacket to a linked VM. Records keep their boundaries and
 * flags both ways; a record longer than the guest's buffers
 * arrives in packets of which only the last says EOM; a broken frame
 * resets the stream. */
static void test_routed_seqpacket(void **state)
{
	struct fixture *f = *state;
	enum { BIG = 6000 };
	static uint8_t big[BIG], got[BIG];
	char buf[16] = "";
	struct vsock_frame fr;
	struct rpkt p;
	uint32_t n = 0;
	int lfd, fd;

	for (unsigned int i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i * 13 + 1);
	f->want_type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	post_rx(f, 16);
	lfd = peer_listen(f);
	fd = routed_request_type(f, lfd, 820, VIRTIO_VSOCK_TYPE_SEQPACKET);
	host_write(fd, "OK 1073741825\n", 14);
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RESPONSE);
	/* one record in two packets, then a record of one */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 820, .dport = 6000,
			       .dst_cid = PEER_CID, .type = 2, .data = "abc", .len = 3 });
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 820, .dport = 6000,
			       .dst_cid = PEER_CID, .type = 2, .data = "de", .len = 2,
			       .flags = VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR });
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 820, .dport = 6000,
			       .dst_cid = PEER_CID, .type = 2, .data = "f", .len = 1,
			       .flags = VIRTIO_VSOCK_SEQ_EOM | 0x100 });
	/* (the first packet left at once, alone: a record may span frames;
	 * only its last frame says EOM) */
	fr = frame_read(fd, buf, sizeof(buf));
	assert_int_equal(fr.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(fr.flags, 0);
	assert_int_equal(fr.len, 3);
	assert_memory_equal(buf, "abc", 3);
	fr = frame_read(fd, buf, sizeof(buf));
	assert_int_equal(fr.flags, VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR);
	assert_int_equal(fr.len, 2);
	assert_memory_equal(buf, "de", 2);
	fr = frame_read(fd, buf, sizeof(buf));
	assert_int_equal(fr.flags, VIRTIO_VSOCK_SEQ_EOM); /* no unknown flags */
	assert_int_equal(fr.len, 1);
	/* from the peer: a big record, then a small one right behind it */
	frame_write(fd, VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_SEQ_EOM, big, BIG);
	frame_write(fd, VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR, "xy", 2);
	pump(f);
	while (n < BIG) {
		expect_rx(f, &p, VIRTIO_VSOCK_OP_RW);
		assert_true(n + p.len <= BIG);
		memcpy(got + n, p.data, p.len);
		n += p.len;
		assert_int_equal(p.flags, n == BIG ? VIRTIO_VSOCK_SEQ_EOM : 0);
	}
	assert_memory_equal(got, big, BIG);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 2);
	assert_int_equal(p.flags, VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR);
	/* a packet of the stream's ports but another type: not this stream */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 820, .dport = 6000,
			       .dst_cid = PEER_CID, .data = "s", .len = 1 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.type, VIRTIO_VSOCK_TYPE_STREAM);
	/* a frame that is neither data nor a shutdown: RST, socket closed */
	frame_write(fd, 9, 0, NULL, 0);
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	assert_int_equal(host_peek(fd), 0);
	close(fd);
	close(lfd);
}

/* The peer refuses (its guest has no listener: its avp closes), answers
 * nonsense, or is slow; a slow peer holds up nobody else. */
static void test_routed_refusals(void **state)
{
	struct fixture *f = *state;
	struct rpkt p;
	uint32_t hport;
	int lfd, fd, slow, host;

	post_rx(f, 16);
	lfd = peer_listen(f);
	fd = routed_request(f, lfd, 810);
	close(fd);
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, PEER_CID);
	assert_int_equal(p.dst_port, 810);

	fd = routed_request(f, lfd, 811);
	host_write(fd, "HELLO\n", 6);
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(host_peek(fd), 0);
	close(fd);

	slow = routed_request(f, lfd, 812);
	/* meanwhile a host stream works */
	host = host_connect(f, 1234, true, &hport);
	host_write(host, "hi", 2);
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.src_cid, VSOCK_HOST_CID);
	/* the guest gives up on the slow one (its connect timed out) */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RST, .sport = 812, .dport = 6000,
			       .dst_cid = PEER_CID });
	pump(f);
	assert_int_equal(host_peek(slow), 0);
	expect_no_rx(f);
	close(slow);
	close(host);
	close(lfd);
}

/* A linked VM's avp says "CONNECT <port> FROM <cid>": our guest sees the
 * stream come from that CID; a CID not linked to us is turned away. */
static void test_stream_from_linked_vm(void **state)
{
	struct fixture *f = *state;
	char line[48], got[32] = "", want[32];
	struct rpkt p;
	int fd;

	post_rx(f, 16);
	fd = host_socket(f->path, true);
	snprintf(line, sizeof(line), "CONNECT 1234 FROM %u STREAM\n", PEER_CID);
	host_write(fd, line, strlen(line));
	pump(f);
	expect_rx(f, &p, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.src_cid, PEER_CID);
	assert_int_equal(p.dst_port, 1234);
	assert_true(p.src_port >= VSOCK_HOST_PORT_BASE);
	/* replies go to CID 4, not to the host */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RESPONSE, .sport = 1234, .dport = p.src_port });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST); /* addressed to the host: no such stream */
	assert_int_equal(p.src_cid, VSOCK_HOST_CID);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RESPONSE, .sport = 1234, .dport = p.src_port,
			       .dst_cid = PEER_CID });
	snprintf(want, sizeof(want), "OK %u\n", p.src_port);
	host_read(fd, got, strlen(want));
	assert_string_equal(got, want);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 1234, .dport = p.src_port,
			       .dst_cid = PEER_CID, .data = "abc", .len = 3 });
	memset(got, 0, sizeof(got));
	assert_int_equal(frame_read(fd, got, sizeof(got)).len, 3);
	assert_string_equal(got, "abc");
	close(fd);

	/* not linked (9), the guest's own CID, malformed: closed, no REQUEST */
	{
		static const char *const bad[] = {
			"CONNECT 1234 FROM 9 STREAM\n", "CONNECT 1234 FROM 3 STREAM\n",
			"CONNECT 1234 FROM 2 STREAM\n", "CONNECT 1234 FROM\n", "CONNECT 1234 4\n",
			"CONNECT 1234 FROM 4x STREAM\n",
			/* an avp before issue 18, which would send bare bytes */
			"CONNECT 1234 FROM 4\n",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			fd = host_socket(f->path, true);
			host_write(fd, bad[i], strlen(bad[i]));
			pump(f);
			if (host_peek(fd) != 0)
				fail_msg("'%.*s' was not turned away", (int)strlen(bad[i]) - 1, bad[i]);
			close(fd);
		}
	}
	pump(f);
	while (rx(f, &p))
		assert_int_not_equal(p.op, VIRTIO_VSOCK_OP_REQUEST);
}

/* A linked VM announces a stream from it: "CONNECT port FROM cid". The
 * host fd; *hport the device's port when the guest was asked (0: the
 * stream was refused, the fd closed without OK). */
static int stream_from(struct fixture *f, uint32_t cid, uint32_t port, uint32_t *hport)
{
	char line[48];
	struct rpkt p;
	int fd = host_socket(f->path, true);

	snprintf(line, sizeof(line), "CONNECT %u FROM %u STREAM\n", port, cid);
	host_write(fd, line, strlen(line));
	pump(f);
	post_rx(f, 1);
	*hport = 0;
	if (!rx(f, &p)) {
		assert_int_equal(host_peek(fd), 0);
		return fd;
	}
	assert_int_equal(p.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.src_cid, cid);
	assert_int_equal(p.dst_port, port);
	*hport = p.src_port;
	return fd;
}

/* Issue 13: one linked VM cannot use up the streams of the host or of
 * another linked VM. With two peers, each has VSOCK_PEERS_CONNS / 2; CID 4
 * fills its share; its next stream is closed without OK (its avp resets
 * its guest's stream), our guest's own REQUEST to CID 4 gets RST (5.10.6.2:
 * a refused connection request), and a host program and CID 5 still get
 * in. A freed slot is CID 4's again. */
static void test_peer_share(void **state)
{
	struct fixture *f = *state;
	enum { SHARE = VSOCK_PEERS_CONNS / 2 };
	int fds[SHARE], over, host, other;
	uint32_t hports[SHARE], hport;
	struct rpkt p;

	for (int i = 0; i < SHARE; i++) {
		fds[i] = stream_from(f, PEER_CID, 1000 + (uint32_t)i, &hports[i]);
		assert_int_not_equal(hports[i], 0);
	}
	over = stream_from(f, PEER_CID, 2000, &hport);
	assert_int_equal(hport, 0);
	close(over);
	post_rx(f, 4);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 900, .dport = 6000,
			       .dst_cid = PEER_CID });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, PEER_CID);
	assert_int_equal(p.src_port, 6000);
	assert_int_equal(p.dst_port, 900);
	/* the host's share and CID 5's are untouched */
	host = host_connect(f, 1234, true, &hport);
	other = stream_from(f, ABSENT_CID, 1235, &hport);
	assert_int_not_equal(hport, 0);
	/* one of CID 4's streams ends: CID 4 gets a slot back */
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RST, .sport = 1000, .dport = hports[0],
			       .dst_cid = PEER_CID });
	close(fds[0]);
	fds[0] = stream_from(f, PEER_CID, 3000, &hports[0]);
	assert_int_not_equal(hports[0], 0);
	for (int i = 0; i < SHARE; i++)
		close(fds[i]);
	close(host);
	close(other);
	pump(f);
}

/* Issue 13: PATH_<port> that is a linked VM's socket, or this VM's own,
 * under another name (a link): the guest's connection to that host port
 * would reach the other avp as if it were a host program (or loop back):
 * RST, and the other avp's listener sees the connection close unused. */
static void test_port_path_to_an_avp_socket(void **state)
{
	struct fixture *f = *state;
	char link[200], own[200];
	struct rpkt p;
	int lfd, fd;
	char c;

	post_rx(f, 16);
	lfd = peer_listen(f);
	snprintf(link, sizeof(link), "%s_5000", f->path);
	assert_int_equal(symlink("peer4.sock", link), 0);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 950, .dport = 5000 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, VSOCK_HOST_CID);
	assert_int_equal(p.dst_port, 950);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	assert_int_equal(recv(fd, &c, 1, 0), 0);
	close(fd);
	/* a link to this VM's own socket */
	snprintf(own, sizeof(own), "%s_5001", f->path);
	assert_int_equal(symlink("v.sock", own), 0);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 951, .dport = 5001 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.dst_port, 951);
	pump(f);
	expect_no_rx(f); /* no REQUEST from our own listener either */
	/* a host program's PATH_<port> still works */
	unlink(link);
	fd = host_socket(link, false);
	tx(f, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 952, .dport = 5000 });
	expect_rx(f, &p, VIRTIO_VSOCK_OP_RESPONSE);
	close(fd);
	unlink(link);
	unlink(own);
	close(lfd);
}

/* Two devices linked to each other (a: CID 3, b: CID 4) in dir. */
static void pair_new(char *dir, struct fixture **a, struct fixture **b)
{
	char pa[128], pb[128];

	assert_non_null(mkdtemp(dir));
	snprintf(pa, sizeof(pa), "%s/a.sock", dir);
	snprintf(pb, sizeof(pb), "%s/b.sock", dir);
	*a = fixture_new(3, dir, "a.sock", &(struct avp_vsock_peer){ 4, pb }, 1);
	*b = fixture_new(4, dir, "b.sock", &(struct avp_vsock_peer){ 3, pa }, 1);
	(*a)->any_src = (*b)->any_src = true;
	post_rx(*a, 32);
	post_rx(*b, 32);
}

/* Guest a (port 900) calls guest b's port 7000 with type; b accepts. b's
 * port for the stream (the device's local port). */
static uint32_t pair_connect(struct fixture *a, struct fixture *b, uint16_t type)
{
	struct rpkt p;
	uint32_t bport;

	a->want_type = b->want_type = type;
	tx(a, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 900, .dport = 7000,
			       .dst_cid = 4, .type = type });
	pump(b);
	expect_rx(b, &p, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.src_cid, 3);
	tx(b, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RESPONSE, .sport = 7000, .dport = p.src_port,
			       .dst_cid = 3, .type = type });
	bport = p.src_port;
	pump(a);
	expect_rx(a, &p, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(p.src_cid, 4);
	return bport;
}

/* Issue 18 (vsock_test 2, 3, 17): what one guest says about a stream
 * reaches the other exactly, through both devices: its SHUT_RD (the
 * other's send then fails with EPIPE), its close after data (data, then
 * SHUTDOWN(RCV|SEND), and the RST comes from the other guest, not from
 * an avp), the other's RST. Before, a SHUT_RD never left the first avp,
 * and a close arrived as SEND only. */
static void test_linked_shutdowns(void **state)
{
	char dir[64] = "/tmp/avp-vsock-test.XXXXXX";
	struct fixture *a, *b;
	uint32_t bport;
	struct rpkt p;

	(void)state;
	pair_new(dir, &a, &b);
	bport = pair_connect(a, b, 0);
	tx(b, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_SHUTDOWN, .sport = 7000, .dport = bport,
			       .dst_cid = 3, .flags = VIRTIO_VSOCK_SHUTDOWN_RCV });
	pump(a);
	expect_rx(a, &p, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(p.flags, VIRTIO_VSOCK_SHUTDOWN_RCV);
	expect_no_rx(b);
	/* b still sends; a closes after its last byte */
	tx(b, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 7000, .dport = bport,
			       .dst_cid = 3, .data = "to a", .len = 4 });
	pump(a);
	expect_rx(a, &p, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(p.data, "to a", 4);
	tx(a, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 900, .dport = 7000, .dst_cid = 4,
			       .data = "x", .len = 1 });
	tx(a, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_SHUTDOWN, .sport = 900, .dport = 7000,
			       .dst_cid = 4,
			       .flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND });
	pump(b);
	expect_rx(b, &p, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(p.data, "x", 1);
	expect_rx(b, &p, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(p.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	pump(a);
	expect_no_rx(a); /* no RST from a's avp: b's guest answers */
	tx(b, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RST, .sport = 7000, .dport = bport,
			       .dst_cid = 3 });
	pump(a);
	expect_rx(a, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, 4);
	assert_int_equal(p.dst_port, 900);
	pump(b);
	expect_no_rx(b);
	/* the ports are free again on both sides */
	bport = pair_connect(a, b, 0);
	tx(a, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RST, .sport = 900, .dport = 7000, .dst_cid = 4 });
	pump(b);
	expect_rx(b, &p, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.src_port, bport);
	fixture_free(a, false);
	fixture_free(b, true);
}

/* Issue 18 (vsock_test 6, 7, 11, 15): seqpacket through both devices: a
 * 20000-byte record and a 1-byte one arrive as records, EOM (and EOR)
 * only on the last packet of each. */
static void test_linked_seqpacket(void **state)
{
	char dir[64] = "/tmp/avp-vsock-test.XXXXXX";
	enum { BIG = 20000 };
	static uint8_t big[BIG], got[BIG];
	struct fixture *a, *b;
	struct rpkt p;
	uint32_t n = 0;

	(void)state;
	for (unsigned int i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i * 7 + 3);
	pair_new(dir, &a, &b);
	assert_true(a->dev->ops->features(a->dev) & (1ull << VIRTIO_VSOCK_F_SEQPACKET));
	pair_connect(a, b, VIRTIO_VSOCK_TYPE_SEQPACKET);
	tx(a, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 900, .dport = 7000, .dst_cid = 4,
			       .type = 2, .data = big, .len = BIG,
			       .flags = VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR });
	tx(a, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 900, .dport = 7000, .dst_cid = 4,
			       .type = 2, .data = "z", .len = 1, .flags = VIRTIO_VSOCK_SEQ_EOM });
	pump(b);
	while (n < BIG) {
		expect_rx(b, &p, VIRTIO_VSOCK_OP_RW);
		assert_true(n + p.len <= BIG);
		memcpy(got + n, p.data, p.len);
		n += p.len;
		assert_int_equal(p.flags,
				 n == BIG ? VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR : 0);
	}
	assert_memory_equal(got, big, BIG);
	expect_rx(b, &p, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.len, 1);
	assert_int_equal(p.flags, VIRTIO_VSOCK_SEQ_EOM);
	fixture_free(a, false);
	fixture_free(b, true);
}

/* Two devices linked to each other, as `avp system up` sets them: guest A
 * (CID 3) calls guest B (CID 4) through both devices and the Unix socket
 * between them; 300 KB each way arrive intact, within each side's credit. */
static void test_two_linked_vms(void **state)
{
	char dir[64] = "/tmp/avp-vsock-test.XXXXXX", pa[128], pb[128];
	struct fixture *a, *b;
	enum { N = 300000 };
	static uint8_t ab[N], ba[N], got_b[N], got_a[N];
	uint32_t sent_a = 0, recv_b = 0, sent_b = 0, recv_a = 0, a_fwd = 0, b_fwd = 0;
	uint32_t bport = 0;
	struct rpkt p;
	bool a_shut = false, b_shut = false, a_eof = false, b_eof = false;
	int round;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(pa, sizeof(pa), "%s/a.sock", dir);
	snprintf(pb, sizeof(pb), "%s/b.sock", dir);
	a = fixture_new(3, dir, "a.sock", &(struct avp_vsock_peer){ 4, pb }, 1);
	b = fixture_new(4, dir, "b.sock", &(struct avp_vsock_peer){ 3, pa }, 1);
	a->any_src = b->any_src = true;
	a->guest_buf_alloc = b->guest_buf_alloc = 64 * 1024;
	for (uint32_t i = 0; i < N; i++) {
		ab[i] = (uint8_t)(i * 7 + i / 509);
		ba[i] = (uint8_t)(i * 11 + i / 257 + 1);
	}
	post_rx(a, 32);
	post_rx(b, 32);
	tx(a, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_REQUEST, .sport = 900, .dport = 7000,
			       .dst_cid = 4 });
	pump(b);
	expect_rx(b, &p, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.src_cid, 3); /* B's guest sees A's real CID */
	assert_int_equal(p.dst_port, 7000);
	bport = p.src_port;
	tx(b, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RESPONSE, .sport = 7000, .dport = bport,
			       .dst_cid = 3 });
	pump(a);
	expect_rx(a, &p, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(p.src_cid, 4);
	assert_int_equal(p.src_port, 7000);

	for (round = 0; round < 2000 && (recv_b < N || recv_a < N || !a_eof || !b_eof); round++) {
		/* each guest sends what its device's credit allows */
		uint32_t room_a = VSOCK_BUF_ALLOC - (sent_a - a_fwd);
		uint32_t room_b = VSOCK_BUF_ALLOC - (sent_b - b_fwd);
		uint32_t k;

		k = N - sent_a < 16384 ? N - sent_a : 16384;
		if (k && room_a >= k) {
			tx(a, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 900, .dport = 7000,
					       .dst_cid = 4, .data = ab + sent_a, .len = k,
					       .fwd_cnt = recv_a });
			sent_a += k;
		} else if (!k && !a_shut) {
			tx(a, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_SHUTDOWN, .sport = 900, .dport = 7000,
					       .dst_cid = 4, .flags = VIRTIO_VSOCK_SHUTDOWN_SEND,
					       .fwd_cnt = recv_a });
			a_shut = true;
		}
		k = N - sent_b < 16384 ? N - sent_b : 16384;
		if (k && room_b >= k) {
			tx(b, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_RW, .sport = 7000, .dport = bport,
					       .dst_cid = 3, .data = ba + sent_b, .len = k,
					       .fwd_cnt = recv_b });
			sent_b += k;
		} else if (!k && !b_shut) {
			tx(b, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_SHUTDOWN, .sport = 7000, .dport = bport,
					       .dst_cid = 3, .flags = VIRTIO_VSOCK_SHUTDOWN_SEND,
					       .fwd_cnt = recv_b });
			b_shut = true;
		}
		pump(a);
		pump(b);
		/* each guest reads what arrived and says so */
		while (rx(b, &p)) {
			assert_int_equal(p.src_cid, 3);
			if (p.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE || p.op == VIRTIO_VSOCK_OP_RW)
				b_fwd = p.fwd_cnt;
			b_eof |= p.op == VIRTIO_VSOCK_OP_SHUTDOWN;
			if (p.op == VIRTIO_VSOCK_OP_RW) {
				assert_false(b_eof);
				assert_true(recv_b + p.len <= N);
				memcpy(got_b + recv_b, p.data, p.len);
				recv_b += p.len;
			}
		}
		while (rx(a, &p)) {
			assert_int_equal(p.src_cid, 4);
			if (p.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE || p.op == VIRTIO_VSOCK_OP_RW)
				a_fwd = p.fwd_cnt;
			a_eof |= p.op == VIRTIO_VSOCK_OP_SHUTDOWN;
			if (p.op == VIRTIO_VSOCK_OP_RW) {
				assert_false(a_eof);
				assert_true(recv_a + p.len <= N);
				memcpy(got_a + recv_a, p.data, p.len);
				recv_a += p.len;
			}
		}
		tx(a, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_CREDIT_UPDATE, .sport = 900, .dport = 7000,
				       .dst_cid = 4, .fwd_cnt = recv_a });
		tx(b, &(struct gpkt){ .op = VIRTIO_VSOCK_OP_CREDIT_UPDATE, .sport = 7000,
				       .dport = bport, .dst_cid = 3, .fwd_cnt = recv_b });
		post_rx(a, 8);
		post_rx(b, 8);
	}
	print_message("two linked VMs: %d rounds\n", round);
	assert_int_equal(recv_b, N);
	assert_int_equal(recv_a, N);
	/* each side's half-close arrived after its data */
	assert_true(a_eof && b_eof);
	assert_memory_equal(got_b, ab, N);
	assert_memory_equal(got_a, ba, N);
	fixture_free(a, false);
	fixture_free(b, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_and_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_to_guest_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_connect_refused_and_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_to_host_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_streams_and_bad_packets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_host_to_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_host_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_overrun_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orderly_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_rst_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rst_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interleaved_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlinked_cid_rst, setup_routed, teardown),
		cmocka_unit_test_setup_teardown(test_routed_stream, setup_routed, teardown),
		cmocka_unit_test_setup_teardown(test_routed_seqpacket, setup_routed, teardown),
		cmocka_unit_test_setup_teardown(test_routed_refusals, setup_routed, teardown),
		cmocka_unit_test_setup_teardown(test_stream_from_linked_vm, setup_routed, teardown),
		cmocka_unit_test_setup_teardown(test_peer_share, setup_routed, teardown),
		cmocka_unit_test_setup_teardown(test_port_path_to_an_avp_socket, setup_routed,
						teardown),
		cmocka_unit_test(test_two_linked_vms),
		cmocka_unit_test(test_linked_shutdowns),
		cmocka_unit_test(test_linked_seqpacket),
	};

	return cmocka_run_group_tests_name("virtio_vsock", tests, NULL, NULL);
}
