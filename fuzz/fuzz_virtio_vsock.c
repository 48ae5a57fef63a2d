/* libFuzzer target: virtio-vsock (src/devices/virtio_vsock.c), guest and
 * host side at once.
 *
 * The device's host side is real: its socket PATH lives in a directory
 * made once per process, with three "host programs" listening on PATH_1,
 * PATH_2 and PATH_3 (the last with a backlog of one, so guest connections
 * also meet a full listener); other ports have nobody listening. The
 * guest is linked (AVP-VSOCK-2) to two VMs: CID 4, whose "avp" listens
 * on a socket of the same directory and is played by the input, and CID 5,
 * which is down (nobody listens). The guest side is the common grammar of
 * the hostile pretend driver (fuzz_guest.h) plus the device op below,
 * whose sub-ops are:
 *
 *   0 tx packet   a guest packet on the TX queue: CIDs mostly right (the
 *                 destination the host, a linked VM, or one not linked),
 *                 ports from small sets (guest ports 1000-1007; host ports
 *                 0-4 and the first host-initiated ports 2^30 + 0-7) so
 *                 that streams meet, any op, len, flags, buf_alloc, fwd_cnt,
 *                 the payload maybe shorter than len claims, header and
 *                 payload in one buffer or the payload separate (and
 *                 repeated up to 7 times: 168 KiB from 24 KiB of RAM);
 *                 kicked or not
 *   1 rx buffers  1-8 receive buffers of any size, kicked or not
 *   2 connect     a host client connects to PATH and writes a CONNECT line
 *                 (right, from a linked VM or not, junk, or none) and maybe
 *                 data behind it
 *   3 host write  a host socket (client or accepted) writes bytes
 *   4 host read   a host socket reads what is waiting
 *   5 host close  a host socket half-closes or closes
 *   6 accept      the listeners accept what waits
 *   7 peer        VM 4's avp accepts what waits and answers each routed
 *                 CONNECT: "OK <port>", junk, or nothing
 *
 * Beyond the sanitizers: every fd the device opened is closed when it is
 * destroyed (the process's fd count is back where it was). */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "avp/devices/virtio_vsock.h"
#include "avp/log.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define GUEST_CID 3
#define PEER_CID 4	/* linked, its avp played by the input */
#define DOWN_CID 5	/* linked, not running */
#define NLISTEN 4	/* PATH_1, PATH_2, PATH_3 and CID 4's socket */
/* Host sockets the input may hold at once: past VSOCK_HOST_CONNS, so the
 * host's share is reachable, and CID 4's (VSOCK_PEERS_CONNS / 2) too. */
#define MAX_HOST 272
_Static_assert(MAX_HOST > VSOCK_HOST_CONNS, "the host share must be reachable");
#define MAX_PAYLOAD (24u * 1024)

struct vs_ctx {
	int host[MAX_HOST]; /* our sockets: clients of PATH and accepted ones */
	unsigned int nhost;
	uint8_t buf[MAX_PAYLOAD];
};

static char dir[64];
static char path[96];
static char listen_path[NLISTEN][108];
static char down_path[108];
static int listeners[NLISTEN] = { -1, -1, -1, -1 };
/* The rest of a payload the input does not spell: byte i is i * 31. Made
 * once: filling it byte by byte was a tenth of the target's time. */
static uint8_t pattern[MAX_PAYLOAD];

static void cleanup(void)
{
	for (int i = 0; i < NLISTEN; i++) {
		if (listeners[i] >= 0)
			close(listeners[i]);
		unlink(listen_path[i]);
	}
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	for (uint32_t i = 0; i < MAX_PAYLOAD; i++)
		pattern[i] = (uint8_t)(i * 31);
	fuzz_tmpdir(dir, sizeof(dir), "vsock");
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	snprintf(down_path, sizeof(down_path), "%s/vm5.sock", dir);
	atexit(cleanup);
	for (int i = 0; i < NLISTEN; i++) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (i < 3)
			snprintf(listen_path[i], sizeof(listen_path[i]), "%s_%d", path, i + 1);
		else
			snprintf(listen_path[i], sizeof(listen_path[i]), "%s/vm4.sock", dir);
		memcpy(a.sun_path, listen_path[i], sizeof(listen_path[i]));
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(fd, i == 2 ? 1 : 64)) {
			perror("vsock fuzz: listener");
			exit(1);
		}
		listeners[i] = fd;
	}
	return 0;
}

static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void host_add(struct vs_ctx *c, int fd)
{
	if (c->nhost < MAX_HOST)
		c->host[c->nhost++] = fd;
	else
		close(fd);
}

static void host_drop(struct vs_ctx *c, unsigned int i)
{
	close(c->host[i]);
	c->host[i] = c->host[--c->nhost];
}

static void accept_from(struct vs_ctx *c, int first, int last)
{
	for (int i = first; i <= last; i++) {
		int fd;

		while ((fd = accept4(listeners[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
			host_add(c, fd);
	}
}

static void accept_all(struct vs_ctx *c)
{
	accept_from(c, 0, NLISTEN - 1);
}

/* VM 4's avp: takes the routed connections waiting and answers each. */
static void peer_op(struct vs_ctx *c, struct fz *z)
{
	int fd;

	while ((fd = accept4(listeners[3], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		uint8_t how = fz_u8(z);
		char line[64];
		int len;

		if (how & 0x80) {
			len = (int)fz_bytes(z, line, fz_u8(z) % sizeof(line));
		} else {
			/* Read the CONNECT line first, as the peer's avp does. */
			recv(fd, c->buf, 64, MSG_DONTWAIT);
			len = (how & 3) == 3 ? 0 : snprintf(line, sizeof(line), "OK %u\n", 1u << 30 | (how & 7));
		}
		if (len > 0)
			send(fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (how & 0x40)
			close(fd);
		else
			host_add(c, fd);
	}
}

static uint32_t guest_port(struct fz *z)
{
	uint8_t b = fz_u8(z);

	return b & 0x80 ? fz_u32(z) : 1000u + (b & 7);
}

static uint32_t host_port(struct fz *z)
{
	uint8_t b = fz_u8(z);

	if (b & 0x80)
		return fz_u32(z);
	return b & 0x40 ? VSOCK_HOST_PORT_BASE + (b & 7) : b % 5;
}

static void tx_packet(struct fuzz_guest *g, struct vs_ctx *c, struct fz *z)
{
	/* Fields are read in this order (a struct initializer would leave
	 * the order of the reads unspecified). */
	uint8_t shape = fz_u8(z);
	uint16_t op = shape & 0x80 ? fz_u16(z) : fz_u8(z) % 8;
	uint32_t sport = guest_port(z), dport = host_port(z);
	uint32_t want = fz_u16(z) % MAX_PAYLOAD;
	uint32_t claim = shape & 0x40 ? fz_u32(z) : want;
	uint32_t flags = shape & 0x20 ? fz_u32(z) : fz_u8(z) & 3;
	uint8_t credit = fz_u8(z);
	uint64_t src_cid = shape & 0x10 ? fz_u64(z) : GUEST_CID;
	uint8_t dst = shape & 0x08 ? fz_u8(z) : 0;
	uint64_t dst_cid = dst & 0x80 ? fz_u64(z)
			   : (uint64_t[]){ VSOCK_HOST_CID, PEER_CID, DOWN_CID, 9 }[dst & 3];
	uint16_t type = shape & 0x04 ? fz_u16(z) : VIRTIO_VSOCK_TYPE_STREAM;
	/* Mostly a sane buffer, sometimes none or any. */
	uint32_t buf_alloc = credit & 1 ? fz_u32(z) : (credit & 2 ? 0 : 256u * 1024);
	uint32_t fwd_cnt = credit & 4 ? fz_u32(z) : 0;
	struct virtio_vsock_hdr h = {
		.src_cid = htole64(src_cid),
		.dst_cid = htole64(dst_cid),
		.src_port = htole32(sport),
		.dst_port = htole32(dport),
		.len = htole32(claim),
		.type = htole16(type),
		.op = htole16(op),
		.flags = htole32(flags),
		.buf_alloc = htole32(buf_alloc),
		.fwd_cnt = htole32(fwd_cnt),
	};
	struct fg_seg segs[FG_MAX_SEGS];
	unsigned int n = 0;
	uint32_t hlen = shape & 0x02 ? fz_u8(z) % (VSOCK_HDR_LEN + 1) : VSOCK_HDR_LEN;
	uint32_t off, got = fz_u8(z);

	/* The payload: the start from the input, the rest a pattern. */
	got = (uint32_t)fz_bytes(z, c->buf, got < want ? got : want);
	memcpy(c->buf + got, pattern + got, want - got);
	if (shape & 0x01) { /* header and payload in separate buffers */
		off = fg_alloc(g, hlen);
		memcpy(g->ram + off, &h, hlen);
		segs[n++] = (struct fg_seg){ fg_gpa(off), hlen, false };
		if (want) {
			/* The payload buffer, repeated: big packets (past the
			 * host socket's buffer, past the credit) from little
			 * guest RAM. */
			unsigned int rep = 1 + (fz_u8(z) % (FG_MAX_SEGS - 1));

			off = fg_alloc(g, want);
			memcpy(g->ram + off, c->buf, want);
			while (rep--)
				segs[n++] = (struct fg_seg){ fg_gpa(off), want, false };
			if (!(shape & 0x40))
				h.len = htole32(want * (n - 1));
			memcpy(g->ram + segs[0].gpa - FG_RAM_GPA, &h, hlen);
		}
	} else {
		off = fg_alloc(g, hlen + want);
		memcpy(g->ram + off, &h, hlen);
		memcpy(g->ram + off + hlen, c->buf, want);
		segs[n++] = (struct fg_seg){ fg_gpa(off), hlen + want, false };
	}
	fg_post(g, VSOCK_TXQ, segs, n, credit & 8, fg_alloc(g, 16 * FG_MAX_SEGS));
	if (!(credit & 0x80))
		fg_kick(g, VSOCK_TXQ);
}

static void rx_buffers(struct fuzz_guest *g, struct fz *z)
{
	uint8_t b = fz_u8(z);
	unsigned int n = 1 + (b & 7);

	for (unsigned int i = 0; i < n; i++) {
		uint16_t l = fz_u16(z);
		/* Mostly what Linux posts (4 KiB), sometimes any size. */
		uint32_t len = l & 0x8000 ? l & 0x7fff : 4096;
		struct fg_seg s = { fg_gpa(fg_alloc(g, len)), len, true };

		fg_post(g, VSOCK_RXQ, &s, 1, false, 0);
	}
	if (!(b & 0x80))
		fg_kick(g, VSOCK_RXQ);
}

static void host_connect(struct vs_ctx *c, struct fz *z)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint8_t how = fz_u8(z);
	char line[64];
	int fd, len;

	if (c->nhost >= MAX_HOST)
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memcpy(a.sun_path, path, strlen(path) + 1);
	/* A full backlog (EAGAIN) is a host program that has to wait. */
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return;
	}
	switch (how & 3) {
	case 0:
		len = snprintf(line, sizeof(line), "CONNECT %u\n", guest_port(z));
		break;
	case 1: /* from a linked VM's avp, or one claiming to be */
		len = snprintf(line, sizeof(line), "CONNECT %u FROM %u\r\n", guest_port(z),
			       (how & 8) ? 9 : PEER_CID);
		break;
	case 2:
		len = (int)fz_bytes(z, line, fz_u8(z) % sizeof(line));
		break;
	default:
		len = 0; /* says nothing: the handshake times out */
		break;
	}
	if (len > 0)
		send(fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (how & 4) { /* data right behind the line */
		size_t n = fz_bytes(z, c->buf, fz_u8(z));

		send(fd, c->buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	host_add(c, fd);
}

static void host_op(struct vs_ctx *c, struct fz *z, unsigned int what)
{
	unsigned int i;
	uint16_t len;

	if (!c->nhost)
		return;
	i = fz_u8(z) % c->nhost;
	switch (what) {
	case 3: /* write: a few bytes from the input, or a lot of pattern */
		len = fz_u16(z);
		if (len & 0x8000) {
			len &= 0x1fff;
			memset(c->buf, 'x', len);
		} else {
			len = (uint16_t)fz_bytes(z, c->buf, len % 64);
		}
		send(c->host[i], c->buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		break;
	case 4:
		while (recv(c->host[i], c->buf, sizeof(c->buf), MSG_DONTWAIT) > 0)
			;
		break;
	default: {
		uint8_t how = fz_u8(z) % 3;

		if (how == 2)
			host_drop(c, i);
		else
			shutdown(c->host[i], how == 0 ? SHUT_WR : SHUT_RD);
		break;
	}
	}
}

static void vs_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	struct vs_ctx *c = opaque;
	uint8_t sub = fz_u8(z);

	switch (sub % 8) {
	case 0:
		tx_packet(g, c, z);
		break;
	case 1:
		rx_buffers(g, z);
		break;
	case 2:
		host_connect(c, z);
		break;
	case 3:
	case 4:
	case 5:
		host_op(c, z, sub % 8);
		break;
	case 6:
		accept_from(c, 0, 2);
		break;
	case 7:
		peer_op(c, z);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { 29 /* EVENT_IDX */, 28 /* INDIRECT_DESC */,
					   VIRTIO_VSOCK_F_STREAM };
	struct avp_vsock_cfg cfg = {
		.cid = GUEST_CID,
		.socket = path,
		.peers = { { PEER_CID, listen_path[3] }, { DOWN_CID, down_path } },
		.npeers = 2,
	};
	struct fz z = { data, size };
	struct vs_ctx *c = calloc(1, sizeof(*c));
	unsigned int fds_before = count_fds();
	struct fuzz_guest g;
	struct virtio_dev *dev;

	if (!c)
		return 0;
	if (virtio_vsock_create(&dev, &cfg) == 0) {
		if (fg_init(&g) == 0) {
			/* resched, listener, timer and one per stream */
			g.max_watch = 3 + VSOCK_MAX_CONNS;
			fg_run(&g, dev, &z, wanted, 3, vs_op, c);
			fg_reset(&g);
		}
		dev->ops->destroy(dev);
		fg_fini(&g);
	}
	/* Connections the guest made and nobody took: gone with the run. */
	accept_all(c);
	while (c->nhost)
		host_drop(c, c->nhost - 1);
	free(c);
	FUZZ_CHECK(count_fds() == fds_before);
	return 0;
}
