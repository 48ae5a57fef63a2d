/* virtio-vsock (VIRTIO 1.2, section 5.10) between a guest and host
 * programs on Unix sockets, Firecracker's convention (docs/devices.md):
 *
 *  - host to guest: a host program connects to the socket PATH, writes
 *    "CONNECT <port>\n", reads "OK <hostport>\n", and then has a byte
 *    stream to the guest's listener on <port>;
 *  - guest to host: a guest connecting to CID 2, port P reaches whoever
 *    listens on the Unix socket "PATH_P";
 *  - guest to guest (AVP-VSOCK-2): a guest connecting to a CID in
 *    cfg->peers reaches that VM's guest through its avp's socket
 *    (avp/devices/vsock_route.h); any other CID gets RST.
 *
 * Layouts and limits shared with the tests. */
#ifndef AVP_DEVICES_VIRTIO_VSOCK_H
#define AVP_DEVICES_VIRTIO_VSOCK_H

#include <stdint.h>

#include "avp/config/options.h"
#include "avp/virtio/virtio_dev.h"

#include "avp/virtio/virtio_ids.h"

/* virtio-vsock (--vsock cid=N,socket=PATH): the guest's CID and the
 * host-side Unix socket (Firecracker's convention, docs/devices.md).
 * peers (--vsock-peer CID:PATH, AVP-VSOCK-2) are the other VMs this
 * guest may reach by CID: the route table, set by `avp system up` for
 * the VMs its system file links; every other CID but the host's is
 * refused. */
#define AVP_VSOCK_MIN_CID 3	     /* 0-2 are reserved (VIRTIO 1.2, 5.10.4) */
#define AVP_VSOCK_MAX_CID 0xfffffffeu /* 0xffffffff is reserved too */
#define AVP_VSOCK_MAX_PEERS 16
struct avp_vsock_peer {
	uint32_t cid;
	char *socket; /* the peer VM's own --vsock socket */
};
struct avp_vsock_cfg {
	uint32_t cid;
	char *socket;
	/* Not keys: filled from the config's vsock-peer entries when the
	 * device is made (the peers borrow their strings). */
	struct avp_vsock_peer peers[AVP_VSOCK_MAX_PEERS];
	unsigned int npeers;
};

/* 5.10.2: queues. */
#define VSOCK_RXQ 0
#define VSOCK_TXQ 1
#define VSOCK_EVQ 2

/* 5.10.3: stream sockets; seqpacket sockets (guest to guest only: a
 * host program's Unix stream has no record boundaries, so the host side
 * refuses them, docs/devices.md). */
#define VIRTIO_VSOCK_F_STREAM 0
#define VIRTIO_VSOCK_F_SEQPACKET 1

#define VSOCK_HOST_CID 2

/* 5.10.6: packet header, little-endian. */
struct virtio_vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

#define VSOCK_HDR_LEN 44
_Static_assert(sizeof(struct virtio_vsock_hdr) == VSOCK_HDR_LEN, "5.10.6 header is 44 bytes");

#define VIRTIO_VSOCK_TYPE_STREAM 1
#define VIRTIO_VSOCK_TYPE_SEQPACKET 2

#define VIRTIO_VSOCK_OP_INVALID 0
#define VIRTIO_VSOCK_OP_REQUEST 1
#define VIRTIO_VSOCK_OP_RESPONSE 2
#define VIRTIO_VSOCK_OP_RST 3
#define VIRTIO_VSOCK_OP_SHUTDOWN 4
#define VIRTIO_VSOCK_OP_RW 5
#define VIRTIO_VSOCK_OP_CREDIT_UPDATE 6
#define VIRTIO_VSOCK_OP_CREDIT_REQUEST 7

/* SHUTDOWN flags (5.10.6.6). */
#define VIRTIO_VSOCK_SHUTDOWN_RCV 1
#define VIRTIO_VSOCK_SHUTDOWN_SEND 2

/* RW flags of a seqpacket stream (5.10.6.6.1 in 1.3): the last packet of
 * a message, and of a record (MSG_EOR). */
#define VIRTIO_VSOCK_SEQ_EOM 1
#define VIRTIO_VSOCK_SEQ_EOR 2

/* Limits; together they bound what a guest or a host program can make
 * avp hold (docs/devices.md):
 *  - streams in shares that nobody else can use up (issue 13: a linked
 *    guest once took all 256 streams of one pool): VSOCK_HOST_CONNS with
 *    the host (CID 2, either direction), and VSOCK_PEERS_CONNS split evenly
 *    among the linked VMs (--vsock-peer), each CID its own part. A guest
 *    REQUEST past its share gets RST (5.10.6.2); a host client or a linked
 *    VM's avp past it is closed without OK (which that avp turns into RST
 *    for its guest);
 *  - VSOCK_HANDSHAKE_CONNS accepted clients still saying CONNECT (whose
 *    share is unknown until then); more wait in the listen backlog;
 *  - per stream, VSOCK_BUF_ALLOC bytes of guest data the host program has
 *    not read yet: the credit we grant the guest (5.10.6.3), so a slow
 *    reader stops the guest's sender, not the other streams. 256 KiB, as
 *    Linux's own default: Linux sends MSG_ZEROCOPY without copying only
 *    when the peer's credit covers the whole message (issue 18), and its
 *    test suite sends 192 KiB at once. A stream to a linked VM also holds
 *    the headers of its records (VSOCK_FRAME_SLACK);
 *  - host data is read only when the guest has credit and a buffer for
 *    it, so a slow guest reader stops the host's writer;
 *  - RST replies to packets of unknown streams wait in a queue of
 *    VSOCK_RST_QUEUE; when it is full we stop taking the guest's tx
 *    packets until the guest gives us rx buffers (5.10.6.1). */
#define VSOCK_HOST_CONNS 256
#define VSOCK_PEERS_CONNS 128 /* 128 with one linked VM, 8 each with 16 */
#define VSOCK_HANDSHAKE_CONNS 32
#define VSOCK_MAX_CONNS (VSOCK_HOST_CONNS + VSOCK_PEERS_CONNS + VSOCK_HANDSHAKE_CONNS)
#define VSOCK_BUF_ALLOC (256u * 1024u)
#define VSOCK_FRAME_SLACK (32u * 1024u)
#define VSOCK_MAX_PAYLOAD (64u * 1024u) /* per packet we send */
#define VSOCK_RST_QUEUE 64
#define VSOCK_BUDGET 64		   /* chains per queue per wakeup */
#define VSOCK_CONNECT_LINE_MAX 48  /* "CONNECT 4294967295 FROM 4294967294\r\n" fits */
#define VSOCK_HANDSHAKE_MS 5000	   /* for CONNECT, the guest's answer, a peer avp's OK */
#define VSOCK_HOST_PORT_BASE (1u << 30) /* local ports of host-initiated streams */

int virtio_vsock_create(struct virtio_dev **out, const struct avp_vsock_cfg *cfg);
/* The same device without its host socket (nothing is bound or created):
 * for --describe. Never activated. */
int virtio_vsock_create_model(struct virtio_dev **out, const struct avp_vsock_cfg *cfg);

/* --vsock cid=N,socket=PATH and --vsock-peer CID:PATH
 * (src/devices/virtio_vsock_opts.c): a vsock-peer entry's options are a
 * struct avp_vsock_peer; the device's create gathers them into peers. */
extern const struct avp_config_type virtio_vsock_config;
extern const struct avp_config_type virtio_vsock_peer_config;

#endif
