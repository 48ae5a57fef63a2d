/* Guest-to-guest vsock (AVP-VSOCK-2): a vsock device's route table and
 * the lines of the host-side protocol that carry a routed stream from one
 * VM's avp to another's (docs/devices.md, "Guest to guest").
 *
 * A guest connecting to CID C, port P, where C is in its route table
 * (--vsock-peer C:PATH), is bridged by its avp to the peer VM's own vsock
 * socket PATH, exactly as a host program would connect there, except that
 * the line says who is calling:
 *
 *     CONNECT <P> FROM <own CID> STREAM|SEQPACKET\n   ->   OK <port>\n
 *
 * The peer's avp accepts "FROM <cid>" only for a CID in its own route
 * table (links are symmetric), and its guest then sees the stream come
 * from that CID rather than from the host (2), with the socket type the
 * caller's guest asked for. A plain "CONNECT <P>\n" still means a host
 * program, so host-side tools are unchanged.
 *
 * After the OK line a routed stream carries frames both ways, not bare
 * bytes (issue 18): what a guest says about the stream must reach the
 * other guest exactly, which a Unix stream cannot carry (a shutdown of
 * its receive side is invisible to the other end until it writes; record
 * boundaries do not exist). Each frame is a struct vsock_frame and, for
 * RW, len payload bytes:
 *   RW (5)        flags: VIRTIO_VSOCK_SEQ_EOM/EOR of a seqpacket stream;
 *                 len > 0
 *   SHUTDOWN (4)  flags: VIRTIO_VSOCK_SHUTDOWN_RCV/SEND, the guest's own;
 *                 len 0
 * An abortive end (the guest's RST, or its avp gone) closes the socket:
 * the other avp resets its guest's stream. Anything else in a frame is a
 * broken peer, and resets the stream too. */
#ifndef AVP_DEVICES_VSOCK_ROUTE_H
#define AVP_DEVICES_VSOCK_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "avp/devices/virtio_vsock.h"

struct vsock_routes {
	struct avp_vsock_peer peer[AVP_VSOCK_MAX_PEERS];
	unsigned int n;
};

/* Checks cfg's peers (a CID of its own, not the guest's, each once; a
 * socket path that fits a Unix address) and copies them into r. On
 * -EINVAL, why says what is wrong. */
int vsock_routes_init(struct vsock_routes *r, const struct avp_vsock_cfg *cfg, char *why,
		      size_t why_len);
void vsock_routes_free(struct vsock_routes *r);

/* The socket of the peer VM with this CID, or NULL: not linked. */
const char *vsock_route_lookup(const struct vsock_routes *r, uint64_t cid);

struct vsock_frame {
	uint8_t op; /* VIRTIO_VSOCK_OP_RW or _SHUTDOWN */
	uint8_t reserved[3];
	uint32_t flags;
	uint32_t len;
} __attribute__((packed));
#define VSOCK_FRAME_LEN 12
_Static_assert(sizeof(struct vsock_frame) == VSOCK_FRAME_LEN, "frame header is 12 bytes");

/* "CONNECT <port>\n", or with from_cid != 0 "CONNECT <port> FROM
 * <from_cid> <type>\n" (type VIRTIO_VSOCK_TYPE_STREAM or _SEQPACKET), into
 * buf. The line's length, or -ENOSPC (-EINVAL for another type). */
int vsock_line_connect(char *buf, size_t len, uint32_t port, uint32_t from_cid, uint16_t type);

/* A CONNECT line without its newline (a trailing '\r' is tolerated).
 * *from_cid is 0 and *type VIRTIO_VSOCK_TYPE_STREAM for the plain form;
 * *type is 0 for a FROM form without a type (an avp before issue 18,
 * which sends bare bytes after OK: the caller refuses it). 0 or -EINVAL. */
int vsock_parse_connect(const char *line, size_t len, uint32_t *port, uint32_t *from_cid,
			uint16_t *type);

/* "OK <port>" without its newline. 0 or -EINVAL. */
int vsock_parse_ok(const char *line, size_t len, uint32_t *port);

#endif
