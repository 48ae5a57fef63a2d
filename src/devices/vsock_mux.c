/* virtio-vsock's host side (avp/devices/virtio_vsock.h): the Unix socket
 * host programs connect to and their "CONNECT <port>" handshake, the
 * connections out to PATH_P for a guest calling the host, and to a linked
 * VM's socket for a guest calling that VM, and the handshake deadlines.
 *
 * Guest to guest (AVP-VSOCK-2): a stream to a linked VM's CID is a host
 * stream whose host program is the peer VM's avp (vsock_route.h has the
 * protocol): we connect to its socket, say CONNECT ... FROM, wait for OK
 * (CONN_ROUTING) and then carry bytes exactly as for a host program, so
 * credit, ordering and back-pressure are those of host streams, end to
 * end through both VMMs and the Unix socket between them. */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "avp/devices/vsock_paths.h"
#include "avp/log.h"
#include "devices/vsock_internal.h"

long long vsock_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void vsock_timer_arm(struct vsock *v, bool on)
{
	struct itimerspec its = { 0 };

	if (on == v->timer_armed || v->timer.fd < 0)
		return;
	if (on) {
		its.it_interval.tv_nsec = TIMER_TICK_MS * 1000000L;
		its.it_value = its.it_interval;
	}
	if (timerfd_settime(v->timer.fd, 0, &its, NULL) == 0) {
		v->timer_armed = on;
		dev_watch_set(&v->dev, &v->timer, on);
	}
}

/* ---- guest to host: connecting out ---- */

/* Whether the listener fd is connected to is a vsock socket of an avp VM
 * this one knows: its own, or a linked VM's (issue 13). PATH_P can be
 * such a socket under another name (a link to it); the listener's own
 * address tells. Then the guest would talk to that avp's CONNECT
 * protocol as if it were a host program, or to itself: refused. Another
 * VM that is not linked cannot be told from a host program here; the
 * system file and the runtime refuse such layouts (vsock_paths.h). */
static bool is_known_avp_socket(const struct vsock *v, int fd)
{
	struct sockaddr_un peer;
	socklen_t len = sizeof(peer);
	char path[sizeof(peer.sun_path) + 1];
	size_t n;

	memset(&peer, 0, sizeof(peer));
	if (getpeername(fd, (struct sockaddr *)&peer, &len) || peer.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path) || !peer.sun_path[0])
		return false; /* cannot tell, or an abstract or unnamed socket */
	n = len - offsetof(struct sockaddr_un, sun_path);
	if (n > sizeof(peer.sun_path))
		n = sizeof(peer.sun_path);
	memcpy(path, peer.sun_path, n);
	path[n] = '\0';
	if (vsock_socket_paths_same(path, v->path))
		return true;
	for (unsigned int i = 0; i < v->routes.n; i++)
		if (vsock_socket_paths_same(path, v->routes.peer[i].socket))
			return true;
	return false;
}

/* A stream the guest asked for (its REQUEST h) on host fd, to host_port;
 * NULL (fd closed) when no connection can be had. */
static struct vconn *conn_for_request(struct vsock *v, int fd, enum conn_state state,
				      const struct virtio_vsock_hdr *h, uint32_t host_port)
{
	struct vconn *c = vconn_new(v, fd, state);

	if (!c) {
		close(fd);
		return NULL;
	}
	c->host_port = host_port;
	c->guest_port = le32toh(h->src_port);
	c->type = le16toh(h->type);
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	return c;
}

/* A guest connecting to the host (CID 2, port P): PATH_P. */
void vsock_connect_host(struct vsock *v, const struct virtio_vsock_hdr *h)
{
	uint32_t host_port = le32toh(h->dst_port), guest_port = le32toh(h->src_port);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct vconn *c;
	int fd, n;

	if (vsock_share_full(v, VSOCK_HOST_CID))
		goto refuse;
	n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s_%u", v->path, host_port);
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
		goto refuse;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto refuse;
	/* Unix stream sockets connect at once or fail (EAGAIN: the
	 * listener's backlog is full); either answer is final. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		goto refuse;
	}
	if (is_known_avp_socket(v, fd)) {
		close(fd);
		avp_guest_warn(v, "virtio-vsock: refused the guest's connection to host port %u: %s "
			       "is this VM's or a linked VM's vsock socket",
			       host_port, addr.sun_path);
		goto refuse;
	}
	c = conn_for_request(v, fd, CONN_ESTABLISHED, h, host_port);
	if (!c)
		goto refuse;
	c->pending = P_RESPONSE;
	vconn_queue(v, c);
	vconn_update_watch(v, c);
	return;
refuse:
	/* 5.10.6.6: no listener, or no resources: RST. */
	vsock_rst_push(v, VSOCK_HOST_CID, host_port, guest_port, VIRTIO_VSOCK_TYPE_STREAM);
}

/* A guest connecting to a linked VM (CID C, port P): we connect to C's
 * vsock socket as a host program would and say who calls ("CONNECT P FROM
 * <our CID>"); the guest gets RESPONSE when C's avp answers OK
 * (route_read), RST when it refuses or does not answer in time. */
void vsock_connect_peer(struct vsock *v, const struct virtio_vsock_hdr *h, const char *peer_path)
{
	uint64_t peer_cid = le64toh(h->dst_cid);
	uint32_t port = le32toh(h->dst_port), guest_port = le32toh(h->src_port);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char line[VSOCK_CONNECT_LINE_MAX];
	struct vconn *c;
	int fd, n;

	n = vsock_line_connect(line, sizeof(line), port, (uint32_t)v->cid, le16toh(h->type));
	if (n < 0 || strlen(peer_path) >= sizeof(addr.sun_path) || vsock_share_full(v, peer_cid))
		goto refuse;
	memcpy(addr.sun_path, peer_path, strlen(peer_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto refuse;
	/* As for PATH_P, the connect is final at once (a peer VM that is
	 * down has no listener, a saturated one a full backlog): the device
	 * thread never waits for a peer; only the OK line is awaited, from
	 * epoll and bounded by the deadline. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		goto refuse;
	}
	/* A fresh socket's buffer is empty: the short line goes out whole. */
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		close(fd);
		goto refuse;
	}
	c = conn_for_request(v, fd, CONN_ROUTING, h, port);
	if (!c)
		goto refuse;
	c->peer_cid = peer_cid;
	c->framed = true;
	c->deadline_ms = vsock_now_ms() + VSOCK_HANDSHAKE_MS;
	vconn_update_watch(v, c);
	vsock_timer_arm(v, true);
	return;
refuse:
	vsock_rst_push(v, peer_cid, port, guest_port, le16toh(h->type));
}

/* ---- host to guest: the listener and the CONNECT handshake ---- */

void vsock_listener_resume(struct vsock *v)
{
	if (!v->listener.active && vsock_handshakes(v) < VSOCK_HANDSHAKE_CONNS &&
	    (v->dev.status & VIRTIO_STATUS_DRIVER_OK) && !(v->dev.status & VIRTIO_STATUS_NEEDS_RESET))
		dev_watch_set(&v->dev, &v->listener, true);
}

static uint32_t alloc_host_port(struct vsock *v)
{
	for (;;) {
		uint32_t p = v->next_host_port;
		bool used = false;

		v->next_host_port = p + 1 >= UINT32_MAX ? VSOCK_HOST_PORT_BASE : p + 1;
		for (unsigned int i = 0; i < v->nconns && !used; i++)
			used = v->conns[i]->host_port == p && v->conns[i]->state != CONN_HANDSHAKE;
		if (!used)
			return p; /* at most VSOCK_MAX_CONNS ports are taken */
	}
}

void vsock_accept_clients(struct vsock *v)
{
	while (vsock_handshakes(v) < VSOCK_HANDSHAKE_CONNS) {
		int fd = accept4(v->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vconn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				avp_warn("virtio-vsock: accept on %s: %s", v->path, strerror(errno));
			return;
		}
		c = vconn_new(v, fd, CONN_HANDSHAKE);
		if (!c) {
			close(fd);
			return;
		}
		c->deadline_ms = vsock_now_ms() + VSOCK_HANDSHAKE_MS;
		vconn_update_watch(v, c);
		vsock_timer_arm(v, true);
	}
	/* Full: the rest wait in the backlog until a handshake ends. */
	dev_watch_set(&v->dev, &v->listener, false);
}

/* Reads one line into c->line without reading past it: what follows is
 * the stream's data, which must wait until the stream is accepted. 1: a
 * whole line is there (its '\n' last), 0: not yet, -1: the peer closed,
 * failed, or sent no newline within VSOCK_CONNECT_LINE_MAX bytes. */
static int line_read(struct vconn *c)
{
	char peek[VSOCK_CONNECT_LINE_MAX];
	size_t room = sizeof(c->line) - c->line_len;
	ssize_t n = recv(c->fd, peek, room, MSG_PEEK | MSG_DONTWAIT);
	char *nl;
	size_t take;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	nl = memchr(peek, '\n', (size_t)n);
	take = nl ? (size_t)(nl - peek) + 1 : (size_t)n;
	if (recv(c->fd, c->line + c->line_len, take, MSG_DONTWAIT) != (ssize_t)take)
		return -1;
	c->line_len += take;
	if (!nl)
		return c->line_len >= sizeof(c->line) ? -1 : 0;
	return 1;
}

/* A host client's "CONNECT <port>" or, from a linked VM's avp, "CONNECT
 * <port> FROM <cid>": the guest is asked to accept a stream from 2 or
 * from that CID. Anything else, and a CID not linked to this VM, closes
 * the connection (a host program could claim any CID otherwise). */
static void handshake_read(struct vsock *v, struct vconn *c)
{
	uint32_t port, from;
	uint16_t type;
	int r = line_read(c);

	if (r == 0)
		return;
	if (r < 0 || vsock_parse_connect(c->line, c->line_len - 1, &port, &from, &type)) {
		vconn_free(v, c);
		return;
	}
	if (from && !vsock_route_lookup(&v->routes, from)) {
		avp_guest_warn(v, "virtio-vsock: refused a stream from CID %u: not linked to this VM "
			       "(no --vsock-peer for it)",
			       from);
		vconn_free(v, c);
		return;
	}
	if (from && !type) {
		avp_guest_warn(v, "virtio-vsock: refused a stream from CID %u: its avp speaks the "
			       "protocol from before seqpacket and shutdown frames (no socket type "
			       "in its CONNECT line); run the same avp version on linked VMs",
			       from);
		vconn_free(v, c);
		return;
	}
	/* Past the caller's share: closed without OK. A linked VM's avp
	 * then resets its guest's stream (route_read). */
	if (vsock_share_full(v, from ? from : VSOCK_HOST_CID)) {
		vconn_free(v, c);
		return;
	}
	c->state = CONN_REQUESTED;
	c->peer_cid = from ? from : VSOCK_HOST_CID;
	c->type = type;
	c->framed = from != 0; /* a linked VM's avp (vsock_route.h) */
	c->guest_port = port;
	c->host_port = alloc_host_port(v);
	c->deadline_ms = vsock_now_ms() + VSOCK_HANDSHAKE_MS;
	c->pending = P_REQUEST;
	vconn_queue(v, c);
	vconn_update_watch(v, c);
	vsock_listener_resume(v); /* a handshake slot is free again */
}

/* The linked VM's avp answers a routed CONNECT: "OK <port>" once its
 * guest accepted; a close (nobody listens there) or anything else ends
 * the stream with RST to our guest. */
static void route_read(struct vsock *v, struct vconn *c)
{
	uint32_t port;
	int r = line_read(c);

	if (r == 0)
		return;
	if (r < 0 || vsock_parse_ok(c->line, c->line_len - 1, &port)) {
		vconn_abort(v, c);
		return;
	}
	c->state = CONN_ESTABLISHED;
	c->deadline_ms = 0;
	c->pending |= P_RESPONSE;
	vconn_queue(v, c);
	vconn_update_watch(v, c);
}

/* Host clients that never sent CONNECT, guests that never answered. */
void vsock_timer_tick(struct vsock *v)
{
	long long now = vsock_now_ms();
	bool waiting = false;

	for (unsigned int i = 0; i < v->nconns;) {
		struct vconn *c = v->conns[i];

		if (c->state == CONN_ESTABLISHED || c->guest_gone || !c->deadline_ms) {
			i++;
			continue;
		}
		if (now < c->deadline_ms) {
			waiting = true;
			i++;
			continue;
		}
		vconn_abort(v, c); /* may free c and move the last entry to i */
		if (i < v->nconns && v->conns[i] == c)
			i++;
	}
	if (!waiting)
		vsock_timer_arm(v, false);
}

void vsock_host_event(struct vsock *v, struct vconn *c, uint32_t events)
{
	if (c->state == CONN_HANDSHAKE) {
		handshake_read(v, c);
		return;
	}
	if (c->state == CONN_ROUTING) {
		route_read(v, c);
		return;
	}
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && c->olen) {
		if (vconn_flush(v, c) || vconn_maybe_free(v, c))
			return;
	}
	if ((events & EPOLLHUP) && !c->framed && !c->host_hup) {
		/* The host program closed (not only SHUT_WR): once its data
		 * is out, the guest hears it will not receive either. */
		c->host_hup = true;
		if (c->host_eof && !c->guest_gone) {
			c->peer_shut |= VIRTIO_VSOCK_SHUTDOWN_RCV;
			c->pending |= P_SHUTDOWN;
			vconn_queue(v, c);
		}
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->watched & EPOLLIN)) {
		c->rx_ready = true;
		vconn_queue(v, c);
	}
	vconn_update_watch(v, c);
}

/* The listening socket; a stale one (nobody accepting) is replaced. */
int vsock_listen(struct vsock *v)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, probe, err;

	memcpy(addr.sun_path, v->path, strlen(v->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		err = errno;
		if (err != EADDRINUSE || lstat(v->path, &st) || !S_ISSOCK(st.st_mode)) {
			close(fd);
			return err == EADDRINUSE ? -EEXIST : -err;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		err = probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0
			      ? EADDRINUSE
			      : errno;
		if (probe >= 0)
			close(probe);
		if (err != ECONNREFUSED || unlink(v->path) ||
		    bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
			close(fd);
			return -EADDRINUSE;
		}
	}
	/* Host programs that can connect can reach the guest's services. */
	if (chmod(v->path, 0600) || listen(fd, VSOCK_MAX_CONNS) || stat(v->path, &st)) {
		err = errno;
		close(fd);
		unlink(v->path);
		return -err;
	}
	v->sock_dev = st.st_dev;
	v->sock_ino = st.st_ino;
	dev_watch_init(&v->listener, fd, EPOLLIN);
	return 0;
}

/* Closes the listening socket, and removes it when it is still ours:
 * another process may own the path now. */
void vsock_listen_close(struct vsock *v)
{
	struct stat st;

	if (v->listener.fd < 0)
		return;
	close(v->listener.fd);
	v->listener.fd = -1;
	if (v->path && lstat(v->path, &st) == 0 && st.st_dev == v->sock_dev &&
	    st.st_ino == v->sock_ino)
		unlink(v->path);
}
