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

/* A framed stream reads on after the guest's RCV shutdown: its peer was
 * told and sends no more data, but a SHUTDOWN or the end may follow; it
 * stops at a SHUTDOWN frame until the guest has heard of it (order). */
static bool can_send_data(const struct vconn *c)
{
	if (c->state != CONN_ESTABLISHED || c->guest_gone || c->fd < 0)
		return false;
	if (c->framed)
		return !(c->pending & P_SHUTDOWN);
	return !c->host_eof && !c->guest_shut_rcv;
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
		else if (!c->framed && c->host_eof && !c->host_hup && !c->guest_gone &&
			 c->state == CONN_ESTABLISHED)
			want = EPOLLHUP; /* whether the host program closes for good */
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
void vsock_rst_push(struct vsock *v, uint64_t peer_cid, uint32_t host_port, uint32_t guest_port,
		    uint16_t type)
{
	/* Callers stop taking tx packets before the ring fills. */
	if (v->rst_count >= VSOCK_RST_QUEUE)
		return;
	v->rst[(v->rst_head + v->rst_count) % VSOCK_RST_QUEUE] = (struct rst_entry){
		.peer_cid = peer_cid, .host_port = host_port, .guest_port = guest_port, .type = type
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

static size_t obuf_cap(const struct vconn *c)
{
	return OBUF_SIZE + (c->framed ? VSOCK_FRAME_SLACK : 0);
}

static int obuf_alloc(struct vconn *c)
{
	if (!c->obuf) {
		c->obuf = malloc(obuf_cap(c));
		if (!c->obuf)
			return -ENOMEM;
		c->ohead = c->olen = 0;
	}
	return 0;
}

/* Bytes [off, off + n) of the ring (off from its start, not from ohead). */
static void ring_get(const struct vconn *c, size_t off, void *dst, size_t n)
{
	size_t cap = obuf_cap(c), first = cap - off < n ? cap - off : n;

	memcpy(dst, c->obuf + off, first);
	memcpy((uint8_t *)dst + first, c->obuf, n - first);
}

static void ring_set(struct vconn *c, size_t off, const void *src, size_t n)
{
	size_t cap = obuf_cap(c), first = cap - off < n ? cap - off : n;

	memcpy(c->obuf + off, src, first);
	memcpy(c->obuf, (const uint8_t *)src + first, n - first);
}

/* Appends n bytes of the chain from chain offset off; the room was
 * checked by the caller. */
static void obuf_append_chain(struct vconn *c, const struct virtq_chain *ch, size_t off, size_t n)
{
	size_t cap = obuf_cap(c), done = 0;

	while (done < n) {
		size_t tail = (c->ohead + c->olen) % cap;
		size_t room = tail >= c->ohead ? cap - tail : c->ohead - tail;
		size_t want = n - done < room ? n - done : room;
		size_t got = virtq_chain_read(ch, off + done, c->obuf + tail, want);

		if (got == 0)
			break; /* cannot happen: len was checked against the chain */
		c->olen += got;
		done += got;
	}
}

/* The frame at the head of obuf starts being written: from now on it
 * cannot grow (its length may be on its way). */
static void frame_begin(struct vconn *c)
{
	struct vsock_frame fr;

	ring_get(c, c->ohead, &fr, sizeof(fr));
	c->ofr_hdr_left = VSOCK_FRAME_LEN;
	c->ofr_pay_left = fr.op == VIRTIO_VSOCK_OP_RW ? le32toh(fr.len) : 0;
	if (c->ohead == c->olast)
		c->olast_open = false;
}

/* n bytes the socket took off the front of obuf: our line first, then
 * (framed) headers and payload; only the guest's payload counts for its
 * credit (fwd_cnt). */
static void obuf_consume(struct vconn *c, size_t n)
{
	size_t cap = obuf_cap(c);

	while (n) {
		size_t k;

		if (c->ours_len) {
			k = n < c->ours_len ? n : c->ours_len;
			c->ours_len -= k;
		} else if (!c->framed) {
			k = n;
			c->fwd_cnt += (uint32_t)k;
		} else {
			if (!c->ofr_hdr_left && !c->ofr_pay_left)
				frame_begin(c);
			if (c->ofr_hdr_left) {
				k = n < c->ofr_hdr_left ? n : c->ofr_hdr_left;
				c->ofr_hdr_left -= (uint32_t)k;
			} else {
				k = n < c->ofr_pay_left ? n : c->ofr_pay_left;
				c->ofr_pay_left -= (uint32_t)k;
				c->fwd_cnt += (uint32_t)k;
			}
		}
		c->ohead = (c->ohead + k) % cap;
		c->olen -= k;
		n -= k;
	}
}

/* Writes the buffered bytes to the host socket. -1 when the socket is
 * gone (the stream was aborted). */
int vconn_flush(struct vsock *v, struct vconn *c)
{
	size_t cap = obuf_cap(c);

	while (c->olen && c->fd >= 0) {
		struct iovec iov[2];
		unsigned int niov = 1;
		size_t first = cap - c->ohead;
		ssize_t n;

		if (first > c->olen)
			first = c->olen;
		iov[0] = (struct iovec){ c->obuf + c->ohead, first };
		if (first < c->olen) {
			iov[1] = (struct iovec){ c->obuf, c->olen - first };
			niov = 2;
		}
		if (c->framed && !c->ours_len && !c->ofr_hdr_left && !c->ofr_pay_left)
			frame_begin(c);
		n = sock_sendv(c->fd, iov, niov);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			vconn_abort(v, c);
			return -1;
		}
		obuf_consume(c, (size_t)n);
	}
	if (!c->olen && c->fd >= 0 && c->guest_shut_send && !c->host_wr_shut && !c->framed) {
		/* Everything the guest sent is out: pass its shutdown on. */
		shutdown(c->fd, SHUT_WR);
		c->host_wr_shut = true;
	}
	conn_check_credit(v, c);
	return 0;
}

/* Appends a frame to a framed stream's buffer: an RW of len payload bytes
 * at chain offset VSOCK_HDR_LEN, or a SHUTDOWN. An RW continuing the last
 * record grows that frame instead (a stream's bytes are one record until
 * a SHUTDOWN), so only a seqpacket stream's records cost a header each.
 * -ENOBUFS when the headers outgrow VSOCK_FRAME_SLACK: a guest sending
 * thousands of tiny records to a reader that does not keep up. */
static int frame_append(struct vconn *c, uint8_t op, uint32_t flags, const struct virtq_chain *ch,
			uint32_t len)
{
	size_t cap = obuf_cap(c);
	struct vsock_frame fr;

	if (obuf_alloc(c))
		return -ENOMEM;
	if (op == VIRTIO_VSOCK_OP_RW && c->olast_open) {
		if (c->olen + len > cap)
			return -ENOBUFS;
		ring_get(c, c->olast, &fr, sizeof(fr));
		fr.len = htole32(le32toh(fr.len) + len);
		fr.flags = htole32(le32toh(fr.flags) | flags);
		ring_set(c, c->olast, &fr, sizeof(fr));
	} else {
		if (c->olen + VSOCK_FRAME_LEN + len > cap)
			return -ENOBUFS;
		fr = (struct vsock_frame){ .op = op, .flags = htole32(flags), .len = htole32(len) };
		c->olast = (c->ohead + c->olen) % cap;
		ring_set(c, c->olast, &fr, sizeof(fr));
		c->olen += VSOCK_FRAME_LEN;
	}
	c->olast_open = op == VIRTIO_VSOCK_OP_RW && !(flags & VIRTIO_VSOCK_SEQ_EOM);
	if (len)
		obuf_append_chain(c, ch, VSOCK_HDR_LEN, len);
	return 0;
}

/* Payload of an RW packet: straight to the socket if nothing is waiting
 * before it, the rest into the stream's buffer; to a linked VM, as a
 * frame with the record's flags. */
static void guest_data(struct vsock *v, struct vconn *c, const struct virtq_chain *ch, uint32_t len,
		       uint32_t flags)
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
	if (c->framed) {
		flags &= c->type == VIRTIO_VSOCK_TYPE_SEQPACKET
				 ? VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR
				 : 0;
		if (frame_append(c, VIRTIO_VSOCK_OP_RW, flags, ch, len)) {
			avp_guest_warn(v, "virtio-vsock: guest port %u sent more records than CID %llu "
				       "reads (over %u KiB of record headers held): resetting the stream",
				       c->guest_port, (unsigned long long)c->peer_cid,
				       VSOCK_FRAME_SLACK / 1024);
			vconn_abort(v, c);
			return;
		}
		if (vconn_flush(v, c))
			return;
		vconn_update_watch(v, c);
		return;
	}
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
		if (obuf_alloc(c)) {
			vconn_abort(v, c);
			return;
		}
		/* Fits: olen <= ours_len + credit granted, and the credit check
		 * above keeps the guest's part within VSOCK_BUF_ALLOC. */
		obuf_append_chain(c, ch, VSOCK_HDR_LEN + done, len - done);
	}
	conn_check_credit(v, c);
	vconn_update_watch(v, c);
}

static void guest_shutdown(struct vsock *v, struct vconn *c, uint32_t flags)
{
	flags &= VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	if (c->framed) {
		/* To the other guest exactly, in order with the data; its
		 * RST (or its avp's close) ends the stream, not ours. */
		bool news = ((flags & VIRTIO_VSOCK_SHUTDOWN_RCV) && !c->guest_shut_rcv) ||
			    ((flags & VIRTIO_VSOCK_SHUTDOWN_SEND) && !c->guest_shut_send);

		if (c->state != CONN_ESTABLISHED) {
			vconn_abort(v, c);
			return;
		}
		c->guest_shut_rcv |= !!(flags & VIRTIO_VSOCK_SHUTDOWN_RCV);
		c->guest_shut_send |= !!(flags & VIRTIO_VSOCK_SHUTDOWN_SEND);
		if (!news)
			return;
		if (frame_append(c, VIRTIO_VSOCK_OP_SHUTDOWN, flags, NULL, 0)) {
			vconn_abort(v, c);
			return;
		}
		if (vconn_flush(v, c) == 0)
			vconn_update_watch(v, c);
		return;
	}
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
			if (obuf_alloc(c)) {
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
			guest_data(v, c, ch, len, le32toh(h->flags));
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
		.type = htole16(c->type),
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
		/* The host program will send no more (and, when it closed,
		 * receive no more): tell the guest. */
		c->host_eof = true;
		c->peer_shut |= VIRTIO_VSOCK_SHUTDOWN_SEND |
				(c->host_hup ? VIRTIO_VSOCK_SHUTDOWN_RCV : 0);
		c->pending |= P_SHUTDOWN;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
		vconn_abort(v, c);
	}
	return 0;
}

/* A linked VM's avp broke the frame protocol (vsock_route.h). */
static void peer_broken(struct vsock *v, struct vconn *c, const char *why)
{
	avp_warn("virtio-vsock: the avp of CID %llu %s: resetting the stream to guest port %u",
		 (unsigned long long)c->peer_cid, why, c->guest_port);
	vconn_abort(v, c);
}

/* Reads frames from a linked VM's avp: the next payload bytes into the
 * chain after the header (>0; *flags the record's flags when they end its
 * frame), or 0: nothing now, a SHUTDOWN for the guest (P_SHUTDOWN), or
 * the end (P_RST). A packet never holds bytes of two frames, so record
 * boundaries stay where the sending guest put them. */
static uint32_t read_frames(struct vsock *v, struct vconn *c, const struct virtq_chain *ch,
			    uint32_t *flags)
{
	for (;;) {
		struct vsock_frame fr;
		size_t room;
		unsigned int niov;
		ssize_t n;

		if (!c->ifr_left) {
			do
				n = recv(c->fd, c->ifr_hdr + c->ifr_hdr_len,
					 VSOCK_FRAME_LEN - c->ifr_hdr_len, MSG_DONTWAIT);
			while (n < 0 && errno == EINTR);
			if (n == 0) {
				/* Its guest reset the stream, or it is gone. */
				vconn_abort(v, c);
				return 0;
			}
			if (n < 0) {
				c->rx_ready = false;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					vconn_abort(v, c);
				return 0;
			}
			c->ifr_hdr_len += (size_t)n;
			if (c->ifr_hdr_len < VSOCK_FRAME_LEN) {
				c->rx_ready = false; /* the rest is not there yet */
				return 0;
			}
			c->ifr_hdr_len = 0;
			memcpy(&fr, c->ifr_hdr, sizeof(fr));
			if (fr.op == VIRTIO_VSOCK_OP_SHUTDOWN && !fr.len &&
			    !(le32toh(fr.flags) &
			      ~(uint32_t)(VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND))) {
				c->peer_shut |= le32toh(fr.flags);
				c->pending |= P_SHUTDOWN;
				return 0;
			}
			if (fr.op != VIRTIO_VSOCK_OP_RW || !fr.len ||
			    (le32toh(fr.flags) & ~(uint32_t)(VIRTIO_VSOCK_SEQ_EOM | VIRTIO_VSOCK_SEQ_EOR))) {
				peer_broken(v, c, "sent a frame that is neither data nor a shutdown");
				return 0;
			}
			c->ifr_left = le32toh(fr.len);
			c->ifr_flags = c->type == VIRTIO_VSOCK_TYPE_SEQPACKET ? le32toh(fr.flags) : 0;
			continue;
		}
		room = ch->in_bytes - VSOCK_HDR_LEN;
		if (room > peer_credit(c))
			room = peer_credit(c);
		if (room > VSOCK_MAX_PAYLOAD)
			room = VSOCK_MAX_PAYLOAD;
		if (room > c->ifr_left)
			room = c->ifr_left;
		if (room == 0)
			return 0;
		niov = slice(ch->iov + ch->n_out, ch->n_in, VSOCK_HDR_LEN, room, v->iov);
		n = sock_recvv(c->fd, v->iov, niov);
		if (n == 0) {
			vconn_abort(v, c); /* gone in the middle of a frame */
			return 0;
		}
		if (n < 0) {
			c->rx_ready = false;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				vconn_abort(v, c);
			return 0;
		}
		if ((size_t)n < room)
			c->rx_ready = false;
		c->ifr_left -= (uint32_t)n;
		*flags = c->ifr_left ? 0 : c->ifr_flags;
		return (uint32_t)n;
	}
}

/* Fills the held rx chain with one packet of c. Returns its length, or 0
 * when c had nothing to send after all. */
uint32_t vconn_build_packet(struct vsock *v, struct vconn *c)
{
	const struct virtq_chain *ch = &v->rx_chain;
	struct virtio_vsock_hdr h;
	uint32_t n, flags = 0;

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
			n = c->framed ? read_frames(v, c, ch, &flags) : read_host_data(v, c, ch);
			if (n) {
				hdr_for(v, c, &h, VIRTIO_VSOCK_OP_RW);
				h.len = htole32(n);
				h.flags = htole32(flags);
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
		h.flags = htole32(c->peer_shut);
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
