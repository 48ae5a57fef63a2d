/* virtio-vsock streams (avp/devices/virtio_vsock.h): the state machine
 * of one stream between the guest and a host socket, its credit
 * (5.10.6.3), and the packets it owes the guest.
 *
 * Each stream is a struct vconn. Packets we owe the guest are not queued
 * as packets but as per-stream flags (pending) plus "the host socket has
 * data" (rx_ready); the device (virtio_vsock.c) turns them into packets
 * when the guest gives it rx buffers.
 *
 * Data is never dropped or reordered: guest data goes straight from the
 * guest's buffers to the host socket, and what the socket does not take
 * is kept (within the credit we granted) and written first when the
 * socket drains; host data is read straight into the guest's rx buffers,
 * and only as much as the guest's credit allows. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "avp/log.h"
#include "devices/vsock_internal.h"

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

/* The host socket is written and read with send and recv (sendto and
 * recvfrom underneath), one segment at a time, never with sendmsg or
 * recvmsg: those could also pass descriptors (SCM_RIGHTS), and a filter
 * cannot look inside a msghdr, so the device worker's role does not allow
 * them (docs/security.md). Like sendmsg: the bytes written, fewer when
 * the socket filled up, or -1 (errno) when none were. */
static ssize_t sock_sendv(int fd, const struct iovec *iov, unsigned int n)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n; i++) {
		ssize_t r;

		do
			r = send(fd, iov[i].iov_base, iov[i].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return (ssize_t)done;
}

/* Like recvmsg: the bytes read, 0 at end of stream, -1 (errno) when
 * nothing was read. A later segment's EOF or EAGAIN waits for the next
 * call. */
static ssize_t sock_recvv(int fd, const struct iovec *iov, unsigned int n)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n; i++) {
		ssize_t r;

		do
			r = recv(fd, iov[i].iov_base, iov[i].iov_len, MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)r;
		if ((size_t)r < iov[i].iov_len)
			break;
	}
	return (ssize_t)done;
}

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

bool vconn_has_rx_work(const struct vconn *c)
{
	return c->pending || (c->rx_ready && can_send_data(c) && peer_credit(c) > 0);
}

void vconn_update_watch(struct vsock *v, struct vconn *c)
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

void vconn_queue(struct vsock *v, struct vconn *c)
{
	if (c->queued || !vconn_has_rx_work(c))
		return;
	c->queued = true;
	c->qnext = NULL;
	if (v->q_tail)
		v->q_tail->qnext = c;
	else
		v->q_head = c;
	v->q_tail = c;
}

struct vconn *vconn_dequeue(struct vsock *v)
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

void vconn_free(struct vsock *v, struct vconn *c)
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
	vsock_listener_resume(v); /* a slot is free again */
}

/* Frees the stream once neither side needs it: the guest has forgotten
 * it and the host has everything the guest sent. True when freed. */
bool vconn_maybe_free(struct vsock *v, struct vconn *c)
{
	if (!c->guest_gone || (c->pending & P_RST))
		return false;
	if (c->olen && c->fd >= 0)
		return false; /* still draining to the host */
	vconn_free(v, c);
	return true;
}

unsigned int vsock_share_cap(const struct vsock *v, uint64_t peer_cid)
{
	if (peer_cid == VSOCK_HOST_CID)
		return VSOCK_HOST_CONNS;
	if (!v->routes.n || !vsock_route_lookup(&v->routes, peer_cid))
		return 0;
	return VSOCK_PEERS_CONNS / v->routes.n;
}

/* Counted, not tracked: a stream changes hands only once (a host client
 * saying CONNECT), and a few hundred entries are quickly read. */
bool vsock_share_full(struct vsock *v, uint64_t peer_cid)
{
	unsigned int used = 0, cap = vsock_share_cap(v, peer_cid);

	for (unsigned int i = 0; i < v->nconns; i++)
		used += v->conns[i]->state != CONN_HANDSHAKE && v->conns[i]->peer_cid == peer_cid;
	if (used < cap)
		return false;
	avp_guest_warn(v, "virtio-vsock: refused a stream with CID %llu: its %u streams are in use "
		       "(docs/limits.md)",
		       (unsigned long long)peer_cid, cap);
	return true;
}

unsigned int vsock_handshakes(const struct vsock *v)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < v->nconns; i++)
		n += v->conns[i]->state == CONN_HANDSHAKE;
	return n;
}

struct vconn *vconn_new(struct vsock *v, int fd, enum conn_state state)
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
struct vconn *vconn_find(struct vsock *v, uint64_t peer_cid, uint32_t host_port,
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

struct vconn *vconn_by_fd(struct vsock *v, int fd)
{
	for (unsigned int i = 0; i < v->nconns; i++)
		if (v->conns[i]->fd == fd)
			return v->conns[i];
	return NULL;
}

/* Ends the stream abruptly: the host socket is closed, the guest is told
 * with RST (if it knows the stream). */
void vconn_abort(struct vsock *v, struct vconn *c)
{
	conn_close_host(v, c);
	c->deadline_ms = 0;
	if (c->state == CONN_HANDSHAKE || c->guest_gone ||
	    (c->state == CONN_REQUESTED && (c->pending & P_REQUEST))) {
		/* The guest never heard of it. */
		c->guest_gone = true;
		c->pending = 0;
		vconn_free(v, c);
		return;
	}
	c->pending = P_RST;
	vconn_queue(v, c);
}

/* An RST to the guest from peer_cid:host_port: a stream is named by both
 * (CID, port) pairs (5.10.6.2), so the reply comes from the address the
 * guest's packet went to, whoever that was. */
void vsock_rst_push(struct vsock *v, uint64_t peer_cid, uint32_t host_port, uint32_t guest_port)
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
		vconn_queue(v, c);
	}
}

/* ---- guest to host ---- */

/* Writes the buffered bytes to the host socket. -1 when the socket is
 * gone (the stream was aborted). */
int vconn_flush(struct vsock *v, struct vconn *c)
{
	while (c->olen && c->fd >= 0) {
		struct iovec iov[2];
		unsigned int niov = 1;
		size_t first = OBUF_SIZE - c->ohead;
		size_t ours;
		ssize_t n;

		if (first > c->olen)
			first = c->olen;
		iov[0] = (struct iovec){ c->obuf + c->ohead, first };
		if (first < c->olen) {
			iov[1] = (struct iovec){ c->obuf, c->olen - first };
			niov = 2;
		}
		n = sock_sendv(c->fd, iov, niov);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			vconn_abort(v, c);
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
		vconn_abort(v, c);
		return;
	}
	/* 5.10.6.3.1: the guest may only send what we granted. */
	if ((uint64_t)(c->rx_cnt - c->fwd_cnt) + len > VSOCK_BUF_ALLOC) {
		avp_guest_warn(v, "virtio-vsock: guest port %u overran its credit: resetting the stream",
			 c->guest_port);
		vconn_abort(v, c);
		return;
	}
	c->rx_cnt += len;
	if (!c->olen) {
		unsigned int niov = slice(ch->iov, ch->n_out, VSOCK_HDR_LEN, len, v->iov);
		ssize_t n = sock_sendv(c->fd, v->iov, niov);

		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			vconn_abort(v, c);
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
				vconn_abort(v, c);
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
	vconn_update_watch(v, c);
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
		if (vconn_flush(v, c))
			return;
	}
	if (c->guest_shut_rcv && c->guest_shut_send) {
		/* 5.10.6.6: a clean disconnect ends with our RST. What the
		 * guest sent still reaches the host (vconn_maybe_free). */
		c->pending = P_RST;
		vconn_queue(v, c);
	}
	vconn_update_watch(v, c);
}

/* A packet of the known stream c from the guest; h was checked and len
 * payload bytes follow it in ch. */
void vconn_guest_packet(struct vsock *v, struct vconn *c, const struct virtio_vsock_hdr *h,
			const struct virtq_chain *ch, uint32_t len)
{
	/* 5.10.6.3: every packet of a stream carries the sender's credit. */
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	switch (le16toh(h->op)) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CONN_REQUESTED || (c->pending & P_REQUEST)) {
			vconn_abort(v, c);
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
				vconn_abort(v, c);
				break;
			}
			/* Nothing is buffered before the stream exists. */
			memcpy(c->obuf, ok, (size_t)n);
			c->ohead = 0;
			c->olen = c->ours_len = (size_t)n;
			if (vconn_flush(v, c))
				break;
		}
		vconn_update_watch(v, c);
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
		vconn_update_watch(v, c);
		vconn_maybe_free(v, c);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		guest_shutdown(v, c, le32toh(h->flags));
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (len)
			guest_data(v, c, ch, len);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		c->credit_requested = false;
		vconn_update_watch(v, c);
		vconn_queue(v, c);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= P_CREDIT_UPDATE;
		vconn_queue(v, c);
		break;
	default:
		vconn_abort(v, c);
		break;
	}
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
	unsigned int niov;
	ssize_t n;

	if (room > credit)
		room = credit;
	if (room > VSOCK_MAX_PAYLOAD)
		room = VSOCK_MAX_PAYLOAD;
	if (room == 0)
		return 0;
	niov = slice(ch->iov + ch->n_out, ch->n_in, VSOCK_HDR_LEN, room, v->iov);
	n = sock_recvv(c->fd, v->iov, niov);
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
		vconn_abort(v, c);
	}
	return 0;
}

/* Fills the held rx chain with one packet of c. Returns its length, or 0
 * when c had nothing to send after all. */
uint32_t vconn_build_packet(struct vsock *v, struct vconn *c)
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
				return vconn_build_packet(v, c);
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
