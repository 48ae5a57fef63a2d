/* virtio-vsock's host side under the device worker's seccomp filter.
 *
 * The real device paths (accepting a host program and its CONNECT line,
 * the OK answer, data both ways, the guest connecting out to PATH_port and
 * to a linked VM's socket, shutdown and reset) run in a forked child
 * confined as the device worker with vsock configured: a call missing from
 * the role kills the child with SIGSYS. The pretend host programs run in
 * the same confined thread, with calls the role allows too (Unix stream
 * sockets, connect, send, recv, poll, accept4); listeners are bound before
 * confinement, as avp binds its own.
 *
 * And what the role refuses (issue 13): sendmsg and recvmsg (which could
 * pass avp's disk, tap or KVM descriptors out with SCM_RIGHTS), datagram
 * and non-Unix sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/config.h"
#include "avp/devices/virtio_vsock.h"
#include "avp/log.h"
#include "avp/seccomp.h"
#include "support/vq_harness.h"
#include "support/config_helper.h"

#define QSIZE 64
#define RX_BUF 4096
#define TX_BUF (VSOCK_HDR_LEN + 4096)
#define GUEST_CID 3
#define PEER_CID 4
#define MAX_WATCH 32

struct child {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *dev;
	struct {
		int fd;
		uint32_t events;
	} w[MAX_WATCH];
	unsigned int nw;
	uint64_t rx_gpa[QSIZE], tx_gpa[QSIZE];
	char dir[64], path[96], port_path[104];
};

struct pkt {
	uint64_t src_cid;
	uint32_t src_port, dst_port, len;
	uint16_t op;
	char data[RX_BUF];
};

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct child *c = (struct child *)dev->transport;

	for (unsigned int i = 0; i < c->nw; i++)
		if (c->w[i].fd == fd) {
			c->w[i].events = events;
			return 0;
		}
	if (c->nw >= MAX_WATCH)
		return -ENOSPC;
	c->w[c->nw].fd = fd;
	c->w[c->nw++].events = events;
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	struct child *c = (struct child *)dev->transport;

	for (unsigned int i = 0; i < c->nw; i++)
		if (c->w[i].fd == fd) {
			c->w[i] = c->w[--c->nw];
			return 0;
		}
	return -ENOENT;
}

/* The worker's epoll loop: every ready watched fd, until none is. */
static void pump(struct child *c)
{
	for (int iter = 0; iter < 1000; iter++) {
		struct pollfd p[MAX_WATCH];
		unsigned int n = c->nw;

		for (unsigned int i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = c->w[i].fd, .events = (short)c->w[i].events };
		if (poll(p, n, 20) <= 0)
			return;
		for (unsigned int i = 0; i < n; i++)
			if (p[i].revents) {
				pthread_mutex_lock(&c->dev->lock);
				c->dev->ops->fd_ready(c->dev, p[i].fd, (uint32_t)p[i].revents);
				pthread_mutex_unlock(&c->dev->lock);
			}
	}
}

static void post_rx(struct child *c, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint16_t slot = c->h.next_desc[VSOCK_RXQ] % QSIZE;
		struct vqh_buf b = { c->rx_gpa[slot], RX_BUF, true };

		vqh_post(&c->h, c->dev, VSOCK_RXQ, &b, 1);
	}
	vqh_kick(&c->h, c->dev, VSOCK_RXQ);
	pump(c);
}

static void tx(struct child *c, uint64_t dst_cid, uint16_t op, uint32_t sport, uint32_t dport,
	       uint32_t flags, const char *data)
{
	uint16_t slot = c->h.next_desc[VSOCK_TXQ] % QSIZE;
	uint8_t *buf = vqh_hva(&c->h, c->tx_gpa[slot]);
	uint32_t len = data ? (uint32_t)strlen(data) : 0;
	struct virtio_vsock_hdr h = {
		.src_cid = htole64(GUEST_CID), .dst_cid = htole64(dst_cid),
		.src_port = htole32(sport),	.dst_port = htole32(dport),
		.len = htole32(len),		.type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
		.op = htole16(op),		.flags = htole32(flags),
		.buf_alloc = htole32(256 * 1024),
	};
	struct vqh_buf b = { c->tx_gpa[slot], VSOCK_HDR_LEN + len, false };

	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + VSOCK_HDR_LEN, data, len);
	vqh_post(&c->h, c->dev, VSOCK_TXQ, &b, 1);
	vqh_kick(&c->h, c->dev, VSOCK_TXQ);
	pump(c);
}

/* The next packet for the guest with op, skipping credit updates. */
static int expect_rx(struct child *c, uint16_t op, struct pkt *p)
{
	uint32_t id, len;
	struct virtio_vsock_hdr h;

	for (;;) {
		if (!vqh_used(&c->h, c->dev, VSOCK_RXQ, &id, &len) || id >= QSIZE ||
		    len < VSOCK_HDR_LEN)
			return -1;
		memcpy(&h, vqh_hva(&c->h, c->rx_gpa[id]), sizeof(h));
		if (le16toh(h.op) == VIRTIO_VSOCK_OP_CREDIT_UPDATE && op != VIRTIO_VSOCK_OP_CREDIT_UPDATE)
			continue;
		if (le16toh(h.op) != op)
			return -1;
		p->src_cid = le64toh(h.src_cid);
		p->src_port = le32toh(h.src_port);
		p->dst_port = le32toh(h.dst_port);
		p->len = len - VSOCK_HDR_LEN;
		p->op = op;
		memcpy(p->data, (uint8_t *)vqh_hva(&c->h, c->rx_gpa[id]) + VSOCK_HDR_LEN, p->len);
		p->data[p->len] = '\0';
		return 0;
	}
}

/* A pretend host program: reads exactly len bytes, pumping the device
 * meanwhile (both run in this one thread). */
static int host_read(struct child *c, int fd, char *buf, size_t len)
{
	size_t got = 0;

	for (int tries = 0; got < len && tries < 100; tries++) {
		ssize_t n;

		pump(c);
		n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (n == 0)
			return -1;
		if (n > 0)
			got += (size_t)n;
	}
	buf[got] = '\0';
	return got == len ? 0 : -1;
}

/* 0 when the host end sees the stream end (EOF, or a reset). */
static int host_eof(struct child *c, int fd)
{
	for (int tries = 0; tries < 100; tries++) {
		char b;
		ssize_t n;

		pump(c);
		n = recv(fd, &b, 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n > 0)
			return -1;
	}
	return -1;
}

static int bind_listen(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4))
		return -1;
	return fd;
}

static int accept_one(struct child *c, int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	pump(c);
	if (poll(&p, 1, 1000) != 1)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Each step's failure has its own exit code. */
static int run_paths(struct child *c, int port_lfd, int peer_lfd)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[64], want[64];
	struct pkt p;
	int host, svc, peer;

	post_rx(c, 32);
	/* Host to guest: listener accept4, the CONNECT line (recvfrom with
	 * MSG_PEEK, then recvfrom), REQUEST, RESPONSE, OK (sendto). */
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", c->path);
	host = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (host < 0 || connect(host, (struct sockaddr *)&a, sizeof(a)))
		return 20;
	if (send(host, "CONNECT 1234\n", 13, MSG_NOSIGNAL) != 13)
		return 21;
	pump(c);
	if (expect_rx(c, VIRTIO_VSOCK_OP_REQUEST, &p) || p.dst_port != 1234)
		return 22;
	tx(c, VSOCK_HOST_CID, VIRTIO_VSOCK_OP_RESPONSE, 1234, p.src_port, 0, NULL);
	snprintf(want, sizeof(want), "OK %u\n", p.src_port);
	if (host_read(c, host, buf, strlen(want)) || strcmp(buf, want))
		return 23;
	/* Data both ways: the host's bytes into the guest's buffers (recv),
	 * the guest's to the host (send). */
	if (send(host, "ping", 4, MSG_NOSIGNAL) != 4)
		return 24;
	pump(c);
	if (expect_rx(c, VIRTIO_VSOCK_OP_RW, &p) || strcmp(p.data, "ping"))
		return 25;
	tx(c, VSOCK_HOST_CID, VIRTIO_VSOCK_OP_RW, 1234, p.src_port, 0, "pong");
	if (host_read(c, host, buf, 4) || strcmp(buf, "pong"))
		return 26;
	/* The guest half-closes (shutdown), the host closes: SHUTDOWN. */
	tx(c, VSOCK_HOST_CID, VIRTIO_VSOCK_OP_SHUTDOWN, 1234, p.src_port,
	   VIRTIO_VSOCK_SHUTDOWN_SEND, NULL);
	if (host_eof(c, host))
		return 27;
	close(host);
	pump(c);
	if (expect_rx(c, VIRTIO_VSOCK_OP_SHUTDOWN, &p))
		return 28;
	tx(c, VSOCK_HOST_CID, VIRTIO_VSOCK_OP_RST, 1234, p.src_port, 0, NULL);

	/* Guest to host: socket(AF_UNIX, SOCK_STREAM | ...), connect to
	 * PATH_5000, RESPONSE, data. */
	tx(c, VSOCK_HOST_CID, VIRTIO_VSOCK_OP_REQUEST, 700, 5000, 0, NULL);
	if (expect_rx(c, VIRTIO_VSOCK_OP_RESPONSE, &p) || p.dst_port != 700)
		return 30;
	svc = accept_one(c, port_lfd);
	if (svc < 0)
		return 31;
	tx(c, VSOCK_HOST_CID, VIRTIO_VSOCK_OP_RW, 700, 5000, 0, "to the host");
	if (host_read(c, svc, buf, 11) || strcmp(buf, "to the host"))
		return 32;

	/* Guest to a linked VM: socket, connect, the CONNECT ... FROM line
	 * (sendto), the peer's OK (recvfrom), RESPONSE. */
	tx(c, PEER_CID, VIRTIO_VSOCK_OP_REQUEST, 800, 6000, 0, NULL);
	peer = accept_one(c, peer_lfd);
	if (peer < 0)
		return 40;
	snprintf(want, sizeof(want), "CONNECT 6000 FROM %u STREAM\n", GUEST_CID);
	if (host_read(c, peer, buf, strlen(want)) || strcmp(buf, want))
		return 41;
	if (send(peer, "OK 99\n", 6, MSG_NOSIGNAL) != 6)
		return 42;
	pump(c);
	if (expect_rx(c, VIRTIO_VSOCK_OP_RESPONSE, &p) || p.src_cid != PEER_CID)
		return 43;

	/* The guest resets both: their host sockets close. */
	tx(c, VSOCK_HOST_CID, VIRTIO_VSOCK_OP_RST, 700, 5000, 0, NULL);
	tx(c, PEER_CID, VIRTIO_VSOCK_OP_RST, 800, 6000, 0, NULL);
	if (host_eof(c, svc) || host_eof(c, peer))
		return 50;
	close(svc);
	close(peer);
	return 0;
}

static int child_main(const char *dir)
{
	struct child *c = calloc(1, sizeof(*c));
	char peer_sock[96];
	struct avp_vsock_peer peers[1] = { { PEER_CID, peer_sock } };
	struct avp_vsock_cfg vcfg = { .cid = GUEST_CID, .npeers = 1 };
	struct avp_config cfg;
	int port_lfd, peer_lfd;

	if (!c)
		return 10;
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	snprintf(c->path, sizeof(c->path), "%s/v.sock", c->dir);
	snprintf(c->port_path, sizeof(c->port_path), "%s_5000", c->path);
	snprintf(peer_sock, sizeof(peer_sock), "%s/peer4.sock", c->dir);
	vcfg.socket = c->path;
	vcfg.peers[0] = peers[0];
	/* What avp does before the worker confines itself: create the
	 * device (its listener), activate it. */
	if (virtio_vsock_create(&c->dev, &vcfg))
		return 11;
	vqh_init(&c->h, 4u << 20);
	vqh_attach(&c->h, c->dev, true, true);
	vqh_set_watch(&c->h, c->dev, spy_watch, spy_unwatch);
	vqh_setup_queue(&c->h, c->dev, VSOCK_RXQ, QSIZE);
	vqh_setup_queue(&c->h, c->dev, VSOCK_TXQ, QSIZE);
	vqh_setup_queue(&c->h, c->dev, VSOCK_EVQ, 16);
	for (unsigned int i = 0; i < QSIZE; i++) {
		c->rx_gpa[i] = vqh_alloc(&c->h, RX_BUF);
		c->tx_gpa[i] = vqh_alloc(&c->h, TX_BUF);
	}
	if (vqh_activate(&c->h, c->dev))
		return 12;
	port_lfd = bind_listen(c->port_path);
	peer_lfd = bind_listen(peer_sock);
	if (port_lfd < 0 || peer_lfd < 0)
		return 13;

	avp_config_init(&cfg);
	cfg.seccomp = AVP_SECCOMP_KILL;
	/* The filter asks only whether the VM has the device. */
	test_add_device(&cfg, &virtio_vsock_config, "cid=3,socket=/v");
	if (avp_seccomp_apply(AVP_THREAD_DEVICE, &cfg))
		return 14;
	/* The files are the parent's to remove: unlink is not the worker's. */
	return run_paths(c, port_lfd, peer_lfd);
}

static void test_device_paths_in_the_worker_role(void **state)
{
	char dir[64] = "/tmp/avp-vsock-seccomp.XXXXXX", p[128];
	static const char *const files[] = { "v.sock", "v.sock_5000", "peer4.sock" };
	int status = 0;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_main(dir));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	assert_int_equal(rmdir(dir), 0);
	if (WIFSIGNALED(status))
		fail_msg("vsock paths: killed by signal %d%s", WTERMSIG(status),
			 WTERMSIG(status) == SIGSYS ? " (a call outside the device role)" : "");
	if (WEXITSTATUS(status))
		fail_msg("vsock paths: child exit %d (see run_paths)", WEXITSTATUS(status));
}

/* ---- what the role refuses: raw syscall(), no wrapper in between ---- */

typedef int (*probe_fn)(void);

#define SURVIVED 101
#define CALL_FAILED 102

static int probe_sendmsg(void)
{
	struct msghdr m = { 0 };

	syscall(SYS_sendmsg, -1, &m, 0);
	return SURVIVED;
}

static int probe_recvmsg(void)
{
	struct msghdr m = { 0 };

	syscall(SYS_recvmsg, -1, &m, 0);
	return SURVIVED;
}

static int probe_unix_dgram(void)
{
	syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return SURVIVED;
}

static int probe_unix_seqpacket(void)
{
	syscall(SYS_socket, AF_UNIX, SOCK_SEQPACKET, 0);
	return SURVIVED;
}

static int probe_inet_stream(void)
{
	syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	return SURVIVED;
}

static int probe_unix_stream_protocol(void)
{
	syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 1);
	return SURVIVED;
}

static int probe_socketpair(void)
{
	int sv[2];

	syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv);
	return SURVIVED;
}

static int probe_unix_stream(void)
{
	static const int types[] = { SOCK_STREAM, SOCK_STREAM | SOCK_CLOEXEC,
				     SOCK_STREAM | SOCK_NONBLOCK,
				     SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int fd = (int)syscall(SYS_socket, AF_UNIX, types[i], 0);

		if (fd < 0 || close(fd))
			return CALL_FAILED;
	}
	return 0;
}

/* send and recv as the vsock code makes them (glibc: sendto, recvfrom). */
static int probe_send_recv(void)
{
	char b = 0;

	if (send(-1, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0 || errno != EBADF)
		return CALL_FAILED;
	if (recv(-1, &b, 1, MSG_DONTWAIT) >= 0 || errno != EBADF)
		return CALL_FAILED;
	return 0;
}

static int run_confined(enum avp_thread_role role, probe_fn probe)
{
	struct avp_config cfg;
	int status = 0;
	pid_t pid;

	avp_config_init(&cfg);
	cfg.seccomp = AVP_SECCOMP_KILL;
	test_add_device(&cfg, &virtio_vsock_config, "cid=3,socket=/v");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (avp_seccomp_apply(role, &cfg))
			_exit(100);
		_exit(probe());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	avp_config_free(&cfg);
	return status;
}

static void expect(enum avp_thread_role role, probe_fn probe, bool allowed, const char *what)
{
	int status = run_confined(role, probe);

	if (allowed && (!WIFEXITED(status) || WEXITSTATUS(status)))
		fail_msg("%s role with vsock: %s did not run (%s %d)", avp_seccomp_role_name(role),
			 what, WIFSIGNALED(status) ? "signal" : "exit",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	if (!allowed && (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS))
		fail_msg("%s role with vsock: %s was not killed by SIGSYS (%s %d)",
			 avp_seccomp_role_name(role), what, WIFSIGNALED(status) ? "signal" : "exit",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static void test_what_the_worker_role_refuses(void **state)
{
	(void)state;
	expect(AVP_THREAD_DEVICE, probe_unix_stream, true, "socket(AF_UNIX, SOCK_STREAM)");
	expect(AVP_THREAD_DEVICE, probe_send_recv, true, "send and recv");
	expect(AVP_THREAD_DEVICE, probe_sendmsg, false, "sendmsg");
	expect(AVP_THREAD_DEVICE, probe_recvmsg, false, "recvmsg");
	expect(AVP_THREAD_DEVICE, probe_unix_dgram, false, "socket(AF_UNIX, SOCK_DGRAM)");
	expect(AVP_THREAD_DEVICE, probe_unix_seqpacket, false, "socket(AF_UNIX, SOCK_SEQPACKET)");
	expect(AVP_THREAD_DEVICE, probe_inet_stream, false, "socket(AF_INET, SOCK_STREAM)");
	expect(AVP_THREAD_DEVICE, probe_unix_stream_protocol, false,
	       "socket(AF_UNIX, SOCK_STREAM, 1)");
	expect(AVP_THREAD_DEVICE, probe_socketpair, false, "socketpair");
}

/* No role has sendmsg or recvmsg, with vsock or without. */
static void test_no_role_passes_descriptors(void **state)
{
	(void)state;
	for (int r = 0; r < AVP_THREAD_NROLES; r++) {
		expect((enum avp_thread_role)r, probe_sendmsg, false, "sendmsg");
		expect((enum avp_thread_role)r, probe_recvmsg, false, "recvmsg");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_paths_in_the_worker_role),
		cmocka_unit_test(test_what_the_worker_role_refuses),
		cmocka_unit_test(test_no_role_passes_descriptors),
	};

	avp_log_set_level(AVP_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
