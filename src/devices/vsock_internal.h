/* What the three files of virtio-vsock share: the device
 * (virtio_vsock.c), the stream state machine (vsock_conn.c) and the host
 * side (vsock_mux.c). Private to them (and nothing else includes it).
 *
 * Everything here runs on the device thread under dev->lock. */
#ifndef AVP_DEVICES_VSOCK_INTERNAL_H
#define AVP_DEVICES_VSOCK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_vsock.h"
#include "avp/devices/vsock_route.h"
#include "avp/virtio/virtqueue.h"

/* What a stream owes the guest (sent in this order of priority). */
#define P_RST (1u << 0)
#define P_REQUEST (1u << 1)
#define P_RESPONSE (1u << 2)
#define P_SHUTDOWN (1u << 3)
#define P_CREDIT_UPDATE (1u << 4)
#define P_CREDIT_REQUEST (1u << 5)

#define TIMER_TICK_MS 250
/* The guest's unread bytes plus our "OK <port>\n" in front of them; a
 * stream to a linked VM also holds its frame headers (vsock_route.h),
 * VSOCK_FRAME_SLACK more. */
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
	uint16_t type;	 /* VIRTIO_VSOCK_TYPE_STREAM or _SEQPACKET */
	bool framed;	 /* the other end is a linked VM's avp: frames, not bytes */
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
	bool host_hup;	      /* the host program closed its socket */
	uint32_t peer_shut;   /* SHUTDOWN flags for the guest (P_SHUTDOWN) */

	/* Framed streams, towards the peer: the frame at the head of obuf
	 * being written (header and payload bytes still to go), and the last
	 * frame in obuf, which an RW of the same record may still grow. */
	uint32_t ofr_hdr_left, ofr_pay_left;
	size_t olast;
	bool olast_open;
	/* ... and from the peer: a header being read, the payload of the
	 * current RW frame still to come and its flags. */
	uint8_t ifr_hdr[16];
	size_t ifr_hdr_len;
	uint32_t ifr_left, ifr_flags;

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
	uint16_t type; /* the refused packet's: Linux ignores an RST of another type */
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
};

/* ---- streams (vsock_conn.c) ---- */

/* How many streams peer_cid (the host, or a linked VM) may have at once:
 * its share (avp/devices/virtio_vsock.h); 0 for a CID not linked. */
unsigned int vsock_share_cap(const struct vsock *v, uint64_t peer_cid);
/* True when peer_cid's share is used up (and says so once per device). */
bool vsock_share_full(struct vsock *v, uint64_t peer_cid);
/* Accepted host clients that have not said CONNECT yet. */
unsigned int vsock_handshakes(const struct vsock *v);
/* A new stream on host socket fd (owned from now on), or NULL when
 * VSOCK_MAX_CONNS are open or memory ran out. Shares are the callers'. */
struct vconn *vconn_new(struct vsock *v, int fd, enum conn_state state);
/* The live stream (peer_cid:host_port, guest_port), or NULL. */
struct vconn *vconn_find(struct vsock *v, uint64_t peer_cid, uint32_t host_port,
			 uint32_t guest_port);
struct vconn *vconn_by_fd(struct vsock *v, int fd);
/* Closes the host socket and frees c, whatever the guest knows. */
void vconn_free(struct vsock *v, struct vconn *c);
/* Frees c once neither side needs it; true when freed. */
bool vconn_maybe_free(struct vsock *v, struct vconn *c);
/* Ends the stream abruptly: host socket closed, RST to the guest if it
 * knows the stream (c may be freed). */
void vconn_abort(struct vsock *v, struct vconn *c);
/* Re-registers c's host socket for the events it can use now. */
void vconn_update_watch(struct vsock *v, struct vconn *c);
/* Puts c in the send FIFO if it owes the guest a packet. */
void vconn_queue(struct vsock *v, struct vconn *c);
/* The next stream of the send FIFO, or NULL. */
struct vconn *vconn_dequeue(struct vsock *v);
bool vconn_has_rx_work(const struct vconn *c);
/* Writes buffered guest data to the host socket; -1 when that aborted
 * the stream. */
int vconn_flush(struct vsock *v, struct vconn *c);
/* A packet of the known stream c from the guest (header checked). */
void vconn_guest_packet(struct vsock *v, struct vconn *c, const struct virtio_vsock_hdr *h,
			const struct virtq_chain *ch, uint32_t len);
/* Fills v->rx_chain with c's next packet: its length, or 0. */
uint32_t vconn_build_packet(struct vsock *v, struct vconn *c);
/* Queues an RST of socket type type to the guest from peer_cid:host_port
 * to guest_port. */
void vsock_rst_push(struct vsock *v, uint64_t peer_cid, uint32_t host_port, uint32_t guest_port,
		    uint16_t type);

/* ---- host side (vsock_mux.c) ---- */

long long vsock_now_ms(void);
/* Starts or stops the handshake-deadline tick. */
void vsock_timer_arm(struct vsock *v, bool on);
/* The guest's REQUEST to the host (CID 2) or to a linked VM at
 * peer_path: connects out, or queues an RST. */
void vsock_connect_host(struct vsock *v, const struct virtio_vsock_hdr *h);
void vsock_connect_peer(struct vsock *v, const struct virtio_vsock_hdr *h, const char *peer_path);
/* Watches the listener again when a stream slot is free. */
void vsock_listener_resume(struct vsock *v);
void vsock_accept_clients(struct vsock *v);
/* Epoll events on a stream's host socket. */
void vsock_host_event(struct vsock *v, struct vconn *c, uint32_t events);
/* Aborts streams whose handshake deadline passed. */
void vsock_timer_tick(struct vsock *v);
/* Binds and listens on v->path (a stale socket there is replaced). */
int vsock_listen(struct vsock *v);
void vsock_listen_close(struct vsock *v);

#endif
