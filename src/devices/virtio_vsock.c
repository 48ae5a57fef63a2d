/* virtio-vsock (VIRTIO 1.2, section 5.10) in user space: guest streams
 * are bridged to Unix stream sockets on the host (the convention is in
 * avp/devices/virtio_vsock.h, the limits and why they bound memory too).
 *
 * Queues: rx (0) carries our packets to the guest, tx (1) the guest's to
 * us, event (2) is only for transport resets, which we never send.
 *
 * Everything runs on the device thread under dev->lock. Each stream is a
 * struct vconn. Packets we owe the guest are not queued as packets but as
 * per-stream flags (pending) plus "the host socket has data" (rx_ready);
 * streams with something to send wait in a FIFO and get one packet per
 * turn, so a busy stream cannot starve the others. Replies to packets of
 * streams we do not know (RST) have no vconn and wait in a small ring.
 *
 * Data is never dropped or reordered: guest data goes straight from the
 * guest's buffers to the host socket, and what the socket does not take
 * is kept (within the credit we granted) and written first when the
 * socket drains; host data is read straight into the guest's rx buffers,
 * and only as much as the guest's credit allows.
 *
 * Guest to guest (AVP-VSOCK-2): a stream to a linked VM's CID is a host
 * stream whose host program is the peer VM's avp (vsock_route.h has the
 * protocol): we connect to its socket, say CONNECT ... FROM, wait for OK
 * (CONN_ROUTING) and then carry bytes exactly as for a host program, so
 * credit, ordering and back-pressure are those of host streams, end to
 * end through both VMMs and the Unix socket between them. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_vsock.h"
#include "avp/devices/vsock_route.h"
#include "avp/log.h"

/* What a stream owes the guest (sent in this order of priority). */
#define P_RST (1u << 0)
#define P_REQUEST (1u << 1)
#define P_RESPONSE (1u << 2)
#define P_SHUTDOWN (1u << 3)
#define P_CREDIT_UPDATE (1u << 4)
#define P_CREDIT_REQUEST (1u << 5)

#define TIMER_TICK_MS 250
/* The guest's unread bytes plus our "OK <port>\n" in front of them. */
#define OBUF_SIZE (VSOCK_BUF_ALLOC + VSOCK_CONNECT_LINE_MAX)

enum conn_state {
	CONN_HANDSHAKE,	  /* host client connected; reading "CONNECT <port>\n" */
	CONN_REQUESTED,	  /* REQUEST owed or sent to the guest; waiting for RESPONSE */
	CONN_ROUTING,	  /* the guest called a linked VM; waiting for its avp's "OK" */
	CONN_ESTABLISHED,
};

struct vconn {
	int fd; /* host socket; -1 once closed */
	enum conn_state state;
	uint64_t peer_cid; /* the guest's peer: the host (2) or a linked VM */
	uint32_t host_port; /* the peer's port */
	uint32_t guest_port;
	bool guest_gone; /* RST sent or received: the guest forgot the stream */

	/* Credit (5.10.6.3). The guest's receive buffer: */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	uint32_t tx_cnt;   /* payload bytes we sent the guest */
	/* Ours: */
	uint32_t rx_cnt;	 /* payload bytes the guest sent us */
	uint32_t fwd_cnt;	 /* ... of which the host socket took */
	uint32_t fwd_cnt_told;	 /* fwd_cnt in the last header we sent */
	bool credit_requested;

	/* Bytes for the host socket that it has not taken yet, a ring of
	 * OBUF_SIZE bytes allocated on first use: the first ours_len are our
	 * "OK" line (not guest data, so not counted in fwd_cnt). */
	uint8_t *obuf;
	size_t ohead;
	size_t olen;
	size_t ours_len;

	bool guest_shut_rcv;  /* the guest will not receive any more */
	bool guest_shut_send; /* the guest will not send any more */
	bool host_eof;	      /* the host program will not send any more */
	bool host_wr_shut;    /* we passed the guest's SEND shutdown on */

	uint32_t pending; /* P_* */
	bool rx_ready;	  /* the host socket has data we have not read */
	bool queued;
	struct vconn *qnext;

	uint32_t watched; /* epoll events registered, 0: none */
	long long deadline_ms;
	char line[VSOCK_CONNECT_LINE_MAX];
	size_t line_len;
};

struct rst_entry {
	uint64_t peer_cid;
	uint32_t host_port;
	uint32_t guest_port;
};

struct vsock {
	struct virtio_dev dev;
	struct {
		uint64_t guest_cid;
	} __attribute__((packed)) config;
	uint64_t cid;
	char *path;
	struct vsock_routes routes; /* linked VMs (--vsock-peer) */
	dev_t sock_dev;
	ino_t sock_ino;
	struct dev_watch listener;
	struct dev_watch timer;
	bool timer_armed;
	struct dev_resched resched;

	struct vconn *conns[VSOCK_MAX_CONNS];
	unsigned int nconns;
	struct vconn *q_head, *q_tail; /* streams with packets to send */
	struct rst_entry rst[VSOCK_RST_QUEUE];
	unsigned int rst_head, rst_count;
	bool tx_stalled; /* waiting for the RST ring to drain */
	uint32_t next_host_port;

	struct virtq_chain tx_chain;
	struct virtq_chain rx_chain;
	bool rx_have; /* rx_chain is ours, not completed yet */
	struct iovec iov[VIRTQ_MAX_CHAIN];
	bool warned_bad_packet;
	bool warned_unlinked_guest; /* the guest called a CID not linked */
	bool warned_unlinked_host;  /* a host client claimed such a CID */
};

static void listener_resume(struct vsock *v);

static struct vsock *vs_of(struct virtio_dev *dev)
{
	return dev->priv;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void warn_bad_packet(struct vsock *v, const char *why)
{
	if (v->warned_bad_packet)
		return;
	v->warned_bad_packet = true;
	avp_warn("virtio-vsock: dropping a malformed packet from the guest (%s); "
		 "further ones are dropped silently",
		 why);
}

/* iovecs for bytes [off, off + len) of segs[0..n). Returns how many; the
 * bytes covered may be fewer when the segments end first. */
static unsigned int slice(const struct iovec *segs, unsigned int n, size_t off, size_t len,
			  struct iovec *out)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && len; i++) {
		size_t seg = segs[i].iov_len;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		seg -= off;
		if (seg > len)
			seg = len;
		out[k].iov_base = (uint8_t *)segs[i].iov_base + off;
		out[k].iov_len = seg;
		k++;
		len -= seg;
		off = 0;
	}
	return k;
}

/* ---- streams ---- */

/* Free space of the guest's receive buffer as it last told us; a guest
 * claiming to have received more than we sent gets none. */
static uint32_t peer_credit(const struct vconn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool can_send_data(const struct vconn *c)
{
	return c->state == CONN_ESTABLISHED && !c->guest_gone && c->fd >= 0 && !c->host_eof &&
	       !c->guest_shut_rcv;
}

static bool has_rx_work(const struct vconn *c)
{
	return c->pending || (c->rx_ready && can_send_data(c) && peer_credit(c) > 0);
}

static void conn_update_watch(struct vsock *v, struct vconn *c)
{
	uint32_t want = 0;

	if (c->fd >= 0) {
		if (c->state == CONN_HANDSHAKE || c->state == CONN_ROUTING)
			want = EPOLLIN; /* the CONNECT or OK line */
		else if (!c->rx_ready && can_send_data(c) && peer_credit(c) > 0)
			want = EPOLLIN; /* otherwise the guest cannot take it */
		if (c->olen)
			want |= EPOLLOUT;
	}
	if (want == c->watched)
		return;
	if (want) {
		if (virtio_dev_watch_fd(&v->dev, c->fd, want) == 0)
			c->watched = want;
	} else {
		virtio_dev_unwatch_fd(&v->dev, c->fd);
		c->watched = 0;
	}
}

static void conn_queue(struct vsock *v, struct vconn *c)
{
	if (c->queued || !has_rx_work(c))
		return;
	c->queued = true;
	c->qnext = NULL;
	if (v->q_tail)
		v->q_tail->qnext = c;
	else
		v->q_head = c;
	v->q_tail = c;
}

static struct vconn *conn_dequeue(struct vsock *v)
{
	struct vconn *c = v->q_head;

	if (!c)
		return NULL;
	v->q_head = c->qnext;
	if (!v->q_head)
		v->q_tail = NULL;
	c->queued = false;
	c->qnext = NULL;
	return c;
}

static void conn_unqueue(struct vsock *v, struct vconn *c)
{
	struct vconn **pp = &v->q_head, *prev = NULL;

	if (!c->queued)
		return;
	while (*pp && *pp != c) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp) {
		*pp = c->qnext;
		if (v->q_tail == c)
			v->q_tail = prev;
	}
	c->queued = false;
	c->qnext = NULL;
}

static void conn_close_host(struct vsock *v, struct vconn *c)
{
	if (c->fd < 0)
		return;
	if (c->watched)
		virtio_dev_unwatch_fd(&v->dev, c->fd);
	c->watched = 0;
	close(c->fd);
	c->fd = -1;
	c->rx_ready = false;
	c->olen = 0;
}

static void conn_free(struct vsock *v, struct vconn *c)
{
	unsigned int i;

	conn_close_host(v, c);
	conn_unqueue(v, c);
	for (i = 0; i < v->nconns && v->conns[i] != c; i++)
		;
	if (i < v->nconns)
		v->conns[i] = v->conns[--v->nconns];
	free(c->obuf);
	free(c);
	listener_resume(v); /* a slot is free again */
}

/* Frees the stream once neither side needs it: the guest has forgotten
 * it and the host has everything the guest sent. True when freed. */
static bool conn_maybe_free(struct vsock *v, struct vconn *c)
{
	if (!c->guest_gone || (c->pending & P_RST))
		return false;
	if (c->olen && c->fd >= 0)
		return false; /* still draining to the host */
	conn_free(v, c);
	return true;
}

static struct vconn *conn_new(struct vsock *v, int fd, enum conn_state state)
{
	struct vconn *c;

	if (v->nconns >= VSOCK_MAX_CONNS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->state = state;
	c->peer_cid = VSOCK_HOST_CID;
	v->conns[v->nconns++] = c;
	return c;
}

/* The live stream (peer_cid:host_port, guest_port), or NULL. */
static struct vconn *conn_find(struct vsock *v, uint64_t peer_cid, uint32_t host_port,
			       uint32_t guest_port)
{
	for (unsigned int i = 0; i < v->nconns; i++) {
		struct vconn *c = v->conns[i];

		if (!c->guest_gone && c->state != CONN_HANDSHAKE && c->host_port == host_port &&
		    c->guest_port == guest_port && c->peer_cid == peer_cid)
			return c;
	}
	return NULL;
}

static struct vconn *conn_by_fd(struct vsock *v, int fd)
{
	for (unsigned int i = 0; i < v->nconns; i++)
		if (v->conns[i]->fd == fd)
			return v->conns[i];
	return NULL;
}

/* Ends the stream abruptly: the host socket is closed, the guest is told
 * with RST (if it knows the stream). */
static void conn_abort(struct vsock *v, struct vconn *c)
{
	conn_close_host(v, c);
	c->deadline_ms = 0;
	if (c->state == CONN_HANDSHAKE || c->guest_gone ||
	    (c->state == CONN_REQUESTED && (c->pending & P_REQUEST))) {
		/* The guest never heard of it. */
		c->guest_gone = true;
		c->pending = 0;
		conn_free(v, c);
		return;
	}
	c->pending = P_RST;
	conn_queue(v, c);
}

/* An RST to the guest from peer_cid:host_port: a stream is named by both
 * (CID, port) pairs (5.10.6.2), so the reply comes from the address the
 * guest's packet went to, whoever that was. */
static void rst_push(struct vsock *v, uint64_t peer_cid, uint32_t host_port, uint32_t guest_port)
{
	/* Callers stop taking tx packets before the ring fills. */
	if (v->rst_count >= VSOCK_RST_QUEUE)
		return;
	v->rst[(v->rst_head + v->rst_count) % VSOCK_RST_QUEUE] = (struct rst_entry){
		.peer_cid = peer_cid, .host_port = host_port, .guest_port = guest_port
	};
	v->rst_count++;
}

/* Asks for a credit update when the guest's idea of our free space has
 * fallen below half and we have freed some since we last told it. */
static void conn_check_credit(struct vsock *v, struct vconn *c)
{
	uint32_t told_free = VSOCK_BUF_ALLOC - (c->rx_cnt - c->fwd_cnt_told);

	if (c->fwd_cnt != c->fwd_cnt_told && told_free < VSOCK_BUF_ALLOC / 2 && !c->guest_gone) {
		c->pending |= P_CREDIT_UPDATE;
		conn_queue(v, c);
	}
}

static void timer_arm(struct vsock *v, bool on)
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

/* ---- guest to host ---- */

/* Writes the buffered bytes to the host socket. -1 when the socket is
 * gone (the stream was aborted). */
static int conn_flush(struct vsock *v, struct vconn *c)
{
	while (c->olen && c->fd >= 0) {
		struct iovec iov[2];
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 1 };
		size_t first = OBUF_SIZE - c->ohead;
		size_t ours;
		ssize_t n;

		if (first > c->olen)
			first = c->olen;
		iov[0] = (struct iovec){ c->obuf + c->ohead, first };
		if (first < c->olen) {
			iov[1] = (struct iovec){ c->obuf, c->olen - first };
			msg.msg_iovlen = 2;
		}
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_abort(v, c);
			return -1;
		}
		c->ohead = (c->ohead + (size_t)n) % OBUF_SIZE;
		c->olen -= (size_t)n;
		ours = (size_t)n < c->ours_len ? (size_t)n : c->ours_len;
		c->ours_len -= ours;
		c->fwd_cnt += (uint32_t)((size_t)n - ours);
	}
	if (!c->olen && c->fd >= 0 && c->guest_shut_send && !c->host_wr_shut) {
		/* Everything the guest sent is out: pass its shutdown on. */
		shutdown(c->fd, SHUT_WR);
		c->host_wr_shut = true;
	}
	conn_check_credit(v, c);
	return 0;
}

/* Payload of an RW packet: straight to the socket if nothing is waiting
 * before it, the rest into the stream's buffer. */
static void guest_data(struct vsock *v, struct vconn *c, const struct virtq_chain *ch, uint32_t len)
{
	size_t done = 0;

	if (c->state != CONN_ESTABLISHED || c->guest_shut_send || c->fd < 0 || c->host_wr_shut) {
		conn_abort(v, c);
		return;
	}
	/* 5.10.6.3.1: the guest may only send what we granted. */
	if ((uint64_t)(c->rx_cnt - c->fwd_cnt) + len > VSOCK_BUF_ALLOC) {
		avp_guest_warn(v, "virtio-vsock: guest port %u overran its credit: resetting the stream",
			 c->guest_port);
		conn_abort(v, c);
		return;
	}
	c->rx_cnt += len;
	if (!c->olen) {
		struct msghdr msg = { .msg_iov = v->iov };
		ssize_t n;

		msg.msg_iovlen = slice(ch->iov, ch->n_out, VSOCK_HDR_LEN, len, v->iov);
		do
			n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_abort(v, c);
			return;
		}
		if (n > 0) {
			done = (size_t)n;
			c->fwd_cnt += (uint32_t)n;
		}
	}
	if (done < len) {
		if (!c->obuf) {
			c->obuf = malloc(OBUF_SIZE);
			if (!c->obuf) {
				conn_abort(v, c);
				return;
			}
			c->ohead = 0;
		}
		/* Fits: olen <= ours_len + credit granted, and the credit check
		 * above keeps the guest's part within VSOCK_BUF_ALLOC. */
		while (done < len && c->olen < OBUF_SIZE) {
			size_t tail = (c->ohead + c->olen) % OBUF_SIZE;
			size_t room = tail >= c->ohead ? OBUF_SIZE - tail : c->ohead - tail;
			size_t want = len - done < room ? len - done : room;
			size_t got = virtq_chain_read(ch, VSOCK_HDR_LEN + done, c->obuf + tail, want);

			if (got == 0)
				break; /* cannot happen: len was checked against the chain */
			c->olen += got;
			done += got;
		}
	}
	conn_check_credit(v, c);
	conn_update_watch(v, c);
}

/* A guest connecting to the host (CID 2, port P): PATH_P. */
static void guest_connect(struct vsock *v, const struct virtio_vsock_hdr *h)
{
	uint32_t host_port = le32toh(h->dst_port), guest_port = le32toh(h->src_port);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct vconn *c;
	int fd, n;

	if (v->nconns >= VSOCK_MAX_CONNS)
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
	c = conn_new(v, fd, CONN_ESTABLISHED);
	if (!c) {
		close(fd);
		goto refuse;
	}
	c->host_port = host_port;
	c->guest_port = guest_port;
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	c->pending = P_RESPONSE;
	conn_queue(v, c);
	conn_update_watch(v, c);
	return;
refuse:
	/* 5.10.6.6: no listener, or no resources: RST. */
	rst_push(v, VSOCK_HOST_CID, host_port, guest_port);
}

/* A guest connecting to a linked VM (CID C, port P): we connect to C's
 * vsock socket as a host program would and say who calls ("CONNECT P FROM
 * <our CID>"); the guest gets RESPONSE when C's avp answers OK
 * (route_read), RST when it refuses or does not answer in time. */
static void route_connect(struct vsock *v, const struct virtio_vsock_hdr *h, const char *peer_path)
{
	uint64_t peer_cid = le64toh(h->dst_cid);
	uint32_t port = le32toh(h->dst_port), guest_port = le32toh(h->src_port);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char line[VSOCK_CONNECT_LINE_MAX];
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct vconn *c;
	int fd, n;

	n = vsock_line_connect(line, sizeof(line), port, (uint32_t)v->cid);
	if (v->nconns >= VSOCK_MAX_CONNS || n < 0 || strlen(peer_path) >= sizeof(addr.sun_path))
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
	iov = (struct iovec){ line, (size_t)n };
	if (sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		close(fd);
		goto refuse;
	}
	c = conn_new(v, fd, CONN_ROUTING);
	if (!c) {
		close(fd);
		goto refuse;
	}
	c->peer_cid = peer_cid;
	c->host_port = port;
	c->guest_port = guest_port;
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	c->deadline_ms = now_ms() + VSOCK_HANDSHAKE_MS;
	conn_update_watch(v, c);
	timer_arm(v, true);
	return;
refuse:
	rst_push(v, peer_cid, port, guest_port);
}

/* A CID that is neither the host nor linked: RST, so the guest's connect
 * fails at once (AVP-VSOCK-2: only what the configuration allows). */
static void refuse_unlinked(struct vsock *v, const struct virtio_vsock_hdr *h)
{
	if (!v->warned_unlinked_guest) {
		v->warned_unlinked_guest = true;
		avp_warn("virtio-vsock: refused the guest's connection to CID %llu: not linked to "
			 "this VM (no --vsock-peer for it); further ones are refused silently",
			 (unsigned long long)le64toh(h->dst_cid));
	}
	rst_push(v, le64toh(h->dst_cid), le32toh(h->dst_port), le32toh(h->src_port));
}

static void guest_shutdown(struct vsock *v, struct vconn *c, uint32_t flags)
{
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV) {
		c->guest_shut_rcv = true;
		c->rx_ready = false;
		/* The host writer gets an error instead of blocking forever. */
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RD);
	}
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND) {
		c->guest_shut_send = true;
		if (conn_flush(v, c))
			return;
	}
	if (c->guest_shut_rcv && c->guest_shut_send) {
		/* 5.10.6.6: a clean disconnect ends with our RST. What the
		 * guest sent still reaches the host (conn_maybe_free). */
		c->pending = P_RST;
		conn_queue(v, c);
	}
	conn_update_watch(v, c);
}

static void handle_tx_packet(struct vsock *v, const struct virtq_chain *ch)
{
	struct virtio_vsock_hdr h;
	struct vconn *c = NULL;
	const char *peer_path = NULL;
	uint64_t dst_cid;
	bool reachable;
	uint32_t len;
	uint16_t op;

	if (virtq_chain_read(ch, 0, &h, sizeof(h)) < sizeof(h)) {
		warn_bad_packet(v, "shorter than the header");
		return;
	}
	len = le32toh(h.len);
	op = le16toh(h.op);
	if (len > ch->out_bytes - VSOCK_HDR_LEN) {
		warn_bad_packet(v, "payload longer than its buffers");
		return;
	}
	/* 5.10.6.4.1: the guest's own CID as source. */
	if (le64toh(h.src_cid) != v->cid) {
		warn_bad_packet(v, "wrong source CID");
		return;
	}
	/* Destinations: the host, or a VM linked to this one. */
	dst_cid = le64toh(h.dst_cid);
	if (dst_cid != VSOCK_HOST_CID)
		peer_path = vsock_route_lookup(&v->routes, dst_cid);
	reachable = dst_cid == VSOCK_HOST_CID || peer_path;
	if (reachable)
		c = conn_find(v, dst_cid, le32toh(h.dst_port), le32toh(h.src_port));
	if (le16toh(h.type) != VIRTIO_VSOCK_TYPE_STREAM) {
		/* 5.10.6.4.2: RST for an unknown type (never for an RST). */
		if (op != VIRTIO_VSOCK_OP_RST)
			rst_push(v, dst_cid, le32toh(h.dst_port), le32toh(h.src_port));
		return;
	}
	if (op == VIRTIO_VSOCK_OP_REQUEST) {
		if (c)
			conn_abort(v, c); /* a stream cannot start twice */
		else if (peer_path)
			route_connect(v, &h, peer_path);
		else if (reachable)
			guest_connect(v, &h);
		else
			refuse_unlinked(v, &h);
		return;
	}
	if (!c) {
		if (op != VIRTIO_VSOCK_OP_RST)
			rst_push(v, dst_cid, le32toh(h.dst_port), le32toh(h.src_port));
		return;
	}
	/* 5.10.6.3: every packet of a stream carries the sender's credit. */
	c->peer_buf_alloc = le32toh(h.buf_alloc);
	c->peer_fwd_cnt = le32toh(h.fwd_cnt);
	switch (op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CONN_REQUESTED || (c->pending & P_REQUEST)) {
			conn_abort(v, c);
			break;
		}
		{
			char ok[24];
			int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

			/* Through the buffer, so it precedes any guest data. */
			c->state = CONN_ESTABLISHED;
			c->deadline_ms = 0;
			c->obuf = c->obuf ? c->obuf : malloc(OBUF_SIZE);
			if (!c->obuf) {
				conn_abort(v, c);
				break;
			}
			/* Nothing is buffered before the stream exists. */
			memcpy(c->obuf, ok, (size_t)n);
			c->ohead = 0;
			c->olen = c->ours_len = (size_t)n;
			if (conn_flush(v, c))
				break;
		}
		conn_update_watch(v, c);
		break;
	case VIRTIO_VSOCK_OP_RST:
		/* The guest forgot the stream; the host still gets what the
		 * guest sent before. */
		c->guest_gone = true;
		c->pending = 0;
		conn_unqueue(v, c);
		if (c->state != CONN_ESTABLISHED)
			conn_close_host(v, c);
		else if (c->fd >= 0 && !c->host_wr_shut)
			shutdown(c->fd, SHUT_RD);
		c->rx_ready = false;
		conn_update_watch(v, c);
		conn_maybe_free(v, c);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		guest_shutdown(v, c, le32toh(h.flags));
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (len)
			guest_data(v, c, ch, len);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		c->credit_requested = false;
		conn_update_watch(v, c);
		conn_queue(v, c);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= P_CREDIT_UPDATE;
		conn_queue(v, c);
		break;
	default:
		conn_abort(v, c);
		break;
	}
}

static void rx_work(struct vsock *v);

static void tx_work(struct vsock *v)
{
	struct virtio_dev *dev = &v->dev;
	struct virtq *vq = &dev->vqs[VSOCK_TXQ];

	for (unsigned int i = 0; i < VSOCK_BUDGET; i++) {
		int ret;

		if (!vq->ready)
			return;
		/* 5.10.6.1: replies we cannot place yet are held outside the
		 * queue; when that space is full, wait for the guest. */
		if (v->rst_count >= VSOCK_RST_QUEUE) {
			v->tx_stalled = true;
			return;
		}
		ret = virtq_pop(vq, &v->tx_chain);
		if (ret == 0)
			return;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "tx ring is broken");
			return;
		}
		if (ret == 1)
			handle_tx_packet(v, &v->tx_chain);
		if (v->tx_chain.head != UINT16_MAX)
			virtio_dev_complete(dev, VSOCK_TXQ, v->tx_chain.head, 0);
	}
	dev_resched_request(&v->resched);
}

/* ---- host to guest ---- */

static void hdr_for(const struct vsock *v, struct vconn *c, struct virtio_vsock_hdr *h, uint16_t op)
{
	*h = (struct virtio_vsock_hdr){
		.src_cid = htole64(c->peer_cid),
		.dst_cid = htole64(v->cid),
		.src_port = htole32(c->host_port),
		.dst_port = htole32(c->guest_port),
		.type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
		.op = htole16(op),
		.buf_alloc = htole32(VSOCK_BUF_ALLOC),
		.fwd_cnt = htole32(c->fwd_cnt),
	};
	c->fwd_cnt_told = c->fwd_cnt;
}

/* Reads host data into the chain after the header. >0 payload bytes;
 * 0 nothing now (the flags say why). */
static uint32_t read_host_data(struct vsock *v, struct vconn *c, const struct virtq_chain *ch)
{
	size_t room = ch->in_bytes - VSOCK_HDR_LEN;
	uint32_t credit = peer_credit(c);
	struct msghdr msg = { .msg_iov = v->iov };
	ssize_t n;

	if (room > credit)
		room = credit;
	if (room > VSOCK_MAX_PAYLOAD)
		room = VSOCK_MAX_PAYLOAD;
	if (room == 0)
		return 0;
	msg.msg_iovlen = slice(ch->iov + ch->n_out, ch->n_in, VSOCK_HDR_LEN, room, v->iov);
	do
		n = recvmsg(c->fd, &msg, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		/* A short read most likely emptied the socket: wait for
		 * EPOLLIN rather than trying again. */
		if ((size_t)n < room)
			c->rx_ready = false;
		return (uint32_t)n;
	}
	c->rx_ready = false;
	if (n == 0) {
		/* The host program will send no more: tell the guest. */
		c->host_eof = true;
		c->pending |= P_SHUTDOWN;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
		conn_abort(v, c);
	}
	return 0;
}

/* Fills the held rx chain with one packet of c. Returns its length, or 0
 * when c had nothing to send after all. */
static uint32_t build_packet(struct vsock *v, struct vconn *c)
{
	const struct virtq_chain *ch = &v->rx_chain;
	struct virtio_vsock_hdr h;
	uint32_t n;

	if (c->pending & P_RST) {
		hdr_for(v, c, &h, VIRTIO_VSOCK_OP_RST);
		c->pending = 0;
		c->guest_gone = true;
		c->rx_ready = false;
		goto out;
	}
	if (c->pending & P_REQUEST) {
		hdr_for(v, c, &h, VIRTIO_VSOCK_OP_REQUEST);
		c->pending &= ~P_REQUEST;
		goto out;
	}
	if (c->pending & P_RESPONSE) {
		hdr_for(v, c, &h, VIRTIO_VSOCK_OP_RESPONSE);
		c->pending &= ~P_RESPONSE;
		goto out;
	}
	if (c->rx_ready && can_send_data(c)) {
		if (peer_credit(c) == 0) {
			if (!c->credit_requested) {
				c->pending |= P_CREDIT_REQUEST;
				c->credit_requested = true;
			}
		} else {
			n = read_host_data(v, c, ch);
			if (n) {
				hdr_for(v, c, &h, VIRTIO_VSOCK_OP_RW);
				h.len = htole32(n);
				c->tx_cnt += n;
				c->pending &= ~P_CREDIT_UPDATE; /* carried by this header */
				if (c->rx_ready && peer_credit(c) == 0 && !c->credit_requested) {
					/* More is waiting: ask the guest to tell
					 * us when it has room (5.10.6.3). */
					c->pending |= P_CREDIT_REQUEST;
					c->credit_requested = true;
				}
				virtq_chain_write(ch, 0, &h, sizeof(h));
				return VSOCK_HDR_LEN + n;
			}
			if (c->pending & P_RST) /* read error: aborted */
				return build_packet(v, c);
		}
	}
	if (c->pending & P_SHUTDOWN) {
		hdr_for(v, c, &h, VIRTIO_VSOCK_OP_SHUTDOWN);
		h.flags = htole32(VIRTIO_VSOCK_SHUTDOWN_SEND);
		c->pending &= ~(P_SHUTDOWN | P_CREDIT_UPDATE);
		goto out;
	}
	if (c->pending & P_CREDIT_UPDATE) {
		hdr_for(v, c, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		c->pending &= ~P_CREDIT_UPDATE;
		goto out;
	}
	if (c->pending & P_CREDIT_REQUEST) {
		hdr_for(v, c, &h, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
		c->pending &= ~P_CREDIT_REQUEST;
		goto out;
	}
	return 0;
out:
	virtq_chain_write(ch, 0, &h, sizeof(h));
	return VSOCK_HDR_LEN;
}

/* Takes an rx chain big enough for a header. 1, 0 (none) or -EIO. */
static int rx_take_chain(struct vsock *v)
{
	struct virtio_dev *dev = &v->dev;

	for (unsigned int i = 0; i < VIRTQ_MAX_SIZE; i++) {
		int ret = virtq_pop(&dev->vqs[VSOCK_RXQ], &v->rx_chain);

		if (ret == 0)
			return 0;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "rx ring is broken");
			return -EIO;
		}
		if (ret == 1 && v->rx_chain.in_bytes >= VSOCK_HDR_LEN)
			return 1;
		if (v->rx_chain.head != UINT16_MAX)
			virtio_dev_complete(dev, VSOCK_RXQ, v->rx_chain.head, 0);
	}
	return 0;
}

static void rx_work(struct vsock *v)
{
	struct virtio_dev *dev = &v->dev;
	unsigned int sent = 0;

	if (!dev->vqs[VSOCK_RXQ].ready)
		return;
	/* Each turn sends a packet or takes a stream off the queue for
	 * good, except when a chain is too small for any data: the bound
	 * keeps such a guest from spinning us. */
	for (unsigned int turns = 0; sent < VSOCK_BUDGET && turns < 4 * VSOCK_BUDGET &&
				     (v->rst_count || v->q_head);
	     turns++) {
		struct vconn *c;
		uint32_t len;

		if (!v->rx_have) {
			int ret = rx_take_chain(v);

			if (ret <= 0)
				break; /* the guest's next rx kick brings us back */
			v->rx_have = true;
		}
		if (v->rst_count) {
			struct rst_entry *e = &v->rst[v->rst_head];
			struct virtio_vsock_hdr h = {
				.src_cid = htole64(e->peer_cid),
				.dst_cid = htole64(v->cid),
				.src_port = htole32(e->host_port),
				.dst_port = htole32(e->guest_port),
				.type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
				.op = htole16(VIRTIO_VSOCK_OP_RST),
			};

			virtq_chain_write(&v->rx_chain, 0, &h, sizeof(h));
			v->rst_head = (v->rst_head + 1) % VSOCK_RST_QUEUE;
			v->rst_count--;
			len = VSOCK_HDR_LEN;
			c = NULL;
		} else {
			c = conn_dequeue(v);
			len = build_packet(v, c);
		}
		if (!len && c && has_rx_work(c)) {
			/* Data waits but this chain has no room past the
			 * header (5.10.6.5 lets the driver post any size):
			 * hand it back unused. */
			virtio_dev_complete(dev, VSOCK_RXQ, v->rx_chain.head, 0);
			v->rx_have = false;
		}
		if (len) {
			virtio_dev_complete(dev, VSOCK_RXQ, v->rx_chain.head, len);
			v->rx_have = false;
			sent++;
		}
		if (c && !conn_maybe_free(v, c)) {
			conn_queue(v, c);
			conn_update_watch(v, c);
		}
	}
	if (v->tx_stalled && v->rst_count < VSOCK_RST_QUEUE) {
		v->tx_stalled = false;
		dev_resched_request(&v->resched);
	}
	if (v->rst_count || v->q_head) {
		if (sent == VSOCK_BUDGET || v->rx_have)
			dev_resched_request(&v->resched);
	}
}

/* ---- host side: the listener and the CONNECT handshake ---- */

static void listener_resume(struct vsock *v)
{
	if (!v->listener.active && v->nconns < VSOCK_MAX_CONNS &&
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

static void accept_clients(struct vsock *v)
{
	while (v->nconns < VSOCK_MAX_CONNS) {
		int fd = accept4(v->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vconn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				avp_warn("virtio-vsock: accept on %s: %s", v->path, strerror(errno));
			return;
		}
		c = conn_new(v, fd, CONN_HANDSHAKE);
		if (!c) {
			close(fd);
			return;
		}
		c->deadline_ms = now_ms() + VSOCK_HANDSHAKE_MS;
		conn_update_watch(v, c);
		timer_arm(v, true);
	}
	/* Full: the rest wait in the backlog until a stream ends. */
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
	int r = line_read(c);

	if (r == 0)
		return;
	if (r < 0 || vsock_parse_connect(c->line, c->line_len - 1, &port, &from)) {
		conn_free(v, c);
		return;
	}
	if (from && !vsock_route_lookup(&v->routes, from)) {
		if (!v->warned_unlinked_host) {
			v->warned_unlinked_host = true;
			avp_warn("virtio-vsock: refused a stream from CID %u: not linked to this VM "
				 "(no --vsock-peer for it); further ones are refused silently",
				 from);
		}
		conn_free(v, c);
		return;
	}
	c->state = CONN_REQUESTED;
	c->peer_cid = from ? from : VSOCK_HOST_CID;
	c->guest_port = port;
	c->host_port = alloc_host_port(v);
	c->deadline_ms = now_ms() + VSOCK_HANDSHAKE_MS;
	c->pending = P_REQUEST;
	conn_queue(v, c);
	conn_update_watch(v, c);
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
		conn_abort(v, c);
		return;
	}
	c->state = CONN_ESTABLISHED;
	c->deadline_ms = 0;
	c->pending |= P_RESPONSE;
	conn_queue(v, c);
	conn_update_watch(v, c);
}

/* Host clients that never sent CONNECT, guests that never answered. */
static void timer_tick(struct vsock *v)
{
	long long now = now_ms();
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
		conn_abort(v, c); /* may free c and move the last entry to i */
		if (i < v->nconns && v->conns[i] == c)
			i++;
	}
	if (!waiting)
		timer_arm(v, false);
}

static void conn_event(struct vsock *v, struct vconn *c, uint32_t events)
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
		if (conn_flush(v, c) || conn_maybe_free(v, c))
			return;
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (c->watched & EPOLLIN)) {
		c->rx_ready = true;
		conn_queue(v, c);
	}
	conn_update_watch(v, c);
}

/* ---- device ops ---- */

static void drop_all(struct vsock *v)
{
	while (v->nconns)
		conn_free(v, v->conns[v->nconns - 1]);
	v->q_head = v->q_tail = NULL;
	v->rst_head = v->rst_count = 0;
	v->tx_stalled = false;
	v->rx_have = false;
	timer_arm(v, false);
}

static void work(struct vsock *v)
{
	tx_work(v);
	rx_work(v);
	if (v->dev.status & VIRTIO_STATUS_NEEDS_RESET) {
		/* Nothing runs until the driver resets us. */
		drop_all(v);
		dev_watch_set(&v->dev, &v->listener, false);
		dev_watch_set(&v->dev, &v->resched.watch, false);
	}
}

static void vs_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct vsock *v = vs_of(dev);

	if (q == VSOCK_TXQ || q == VSOCK_RXQ)
		work(v);
	/* The event queue only holds buffers for events we never send. */
}

static void vs_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vsock *v = vs_of(dev);
	struct vconn *c;

	if (dev_resched_take(&v->resched, fd)) {
		/* fall through to the work below */
	} else if (fd == v->listener.fd) {
		accept_clients(v);
	} else if (fd == v->timer.fd) {
		uint64_t ticks;

		if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
			avp_warn("virtio-vsock: timer: %s", strerror(errno));
		timer_tick(v);
	} else if ((c = conn_by_fd(v, fd))) {
		conn_event(v, c, events);
	} else {
		/* A stale event of a stream closed meanwhile. */
		return;
	}
	work(v);
}

static uint64_t vs_features(struct virtio_dev *dev)
{
	(void)dev;
	return 1ull << VIRTIO_VSOCK_F_STREAM;
}

static int vs_activate(struct virtio_dev *dev)
{
	struct vsock *v = vs_of(dev);
	int ret = dev_watch_set(dev, &v->resched.watch, true);

	if (!ret)
		ret = dev_watch_set(dev, &v->listener, true);
	return ret;
}

static void vs_reset(struct virtio_dev *dev)
{
	struct vsock *v = vs_of(dev);

	/* The driver forgot every stream: so do we; host programs see their
	 * sockets close. */
	drop_all(v);
	dev_watch_set(dev, &v->listener, false);
	dev_watch_set(dev, &v->resched.watch, false);
	dev_resched_take(&v->resched, v->resched.watch.fd);
}

static void vs_free(struct vsock *v)
{
	struct stat st;

	drop_all(v);
	if (v->listener.fd >= 0) {
		close(v->listener.fd);
		/* Only our own socket: another process may own the path now. */
		if (v->path && lstat(v->path, &st) == 0 && st.st_dev == v->sock_dev &&
		    st.st_ino == v->sock_ino)
			unlink(v->path);
	}
	if (v->timer.fd >= 0)
		close(v->timer.fd);
	dev_resched_fini(&v->resched);
	vsock_routes_free(&v->routes);
	free(v->path);
	free(v);
}

static void vs_destroy(struct virtio_dev *dev)
{
	/* The transport is gone: nothing to unwatch any more. */
	dev->watch_fd = NULL;
	dev->unwatch_fd = NULL;
	dev->status = 0;
	pthread_mutex_destroy(&dev->lock);
	vs_free(vs_of(dev));
}

static const struct virtio_dev_ops vs_ops = {
	.type = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.features = vs_features,
	.activate = vs_activate,
	.queue_notify = vs_queue_notify,
	.fd_ready = vs_fd_ready,
	.reset = vs_reset,
	.destroy = vs_destroy,
};

/* The listening socket; a stale one (nobody accepting) is replaced. */
static int listen_on(struct vsock *v)
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

int virtio_vsock_create(struct virtio_dev **out, const struct avp_vsock_cfg *cfg)
{
	struct vsock *v;
	char why[160];
	int ret, tfd;

	if (cfg->cid < AVP_VSOCK_MIN_CID || cfg->cid > AVP_VSOCK_MAX_CID || !cfg->socket)
		return -EINVAL;
	/* PATH_4294967295 must fit a Unix socket address too. */
	if (strlen(cfg->socket) + 11 >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		avp_err("--vsock socket=%s: too long for a Unix socket path (with _PORT appended, "
			"at most %zu bytes)",
			cfg->socket, sizeof(((struct sockaddr_un *)0)->sun_path) - 12);
		return -ENAMETOOLONG;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	ret = vsock_routes_init(&v->routes, cfg, why, sizeof(why));
	if (ret) {
		if (ret == -EINVAL)
			avp_err("--vsock-peer: %s", why);
		free(v);
		return ret;
	}
	dev_watch_init(&v->listener, -1, EPOLLIN);
	dev_watch_init(&v->timer, -1, EPOLLIN);
	v->resched.watch.fd = -1;
	v->cid = cfg->cid;
	v->config.guest_cid = htole64(cfg->cid);
	v->next_host_port = VSOCK_HOST_PORT_BASE;
	v->path = strdup(cfg->socket);
	if (!v->path) {
		vs_free(v);
		return -ENOMEM;
	}
	ret = dev_resched_init(&v->resched);
	if (ret) {
		avp_err("virtio-vsock: eventfd: %s", strerror(-ret));
		vs_free(v);
		return ret;
	}
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tfd < 0) {
		ret = -errno;
		avp_err("virtio-vsock: timerfd: %s", strerror(-ret));
		vs_free(v);
		return ret;
	}
	dev_watch_init(&v->timer, tfd, EPOLLIN);
	ret = listen_on(v);
	if (ret) {
		avp_err("--vsock socket=%s: %s", cfg->socket,
			ret == -EADDRINUSE ? "another process is listening there"
			: ret == -EEXIST   ? "the path exists and is not a socket"
					   : strerror(-ret));
		vs_free(v);
		return ret;
	}
	virtio_dev_init(&v->dev, &vs_ops, v, &v->config, sizeof(v->config));
	*out = &v->dev;
	return 0;
}
