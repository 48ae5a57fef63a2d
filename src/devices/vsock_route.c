/* The route table of a vsock device and the host-side protocol lines
 * (see avp/devices/vsock_route.h). The stream machinery that uses them is
 * in virtio_vsock.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "avp/devices/virtio_vsock.h"
#include "avp/devices/vsock_paths.h"
#include "avp/devices/vsock_route.h"

/* Issue 13: a VM's socket and its peers' sockets, as far as this VM can
 * see them, must not collide (avp/devices/vsock_paths.h): with its own
 * PATH_N a guest's connections to host port N would reach the peer as if
 * from the host, unlinked. Compared with their directories resolved, so
 * relative paths and links to directories are seen through. */
static int check_collisions(const struct avp_vsock_cfg *cfg, char *why, size_t why_len)
{
	char a[PATH_MAX], b[PATH_MAX];

	for (unsigned int i = 0; i < cfg->npeers; i++) {
		const struct avp_vsock_peer *p = &cfg->peers[i];

		if (vsock_socket_path_resolve(p->socket, a, sizeof(a)))
			continue; /* cannot be a socket path; checked below */
		if (cfg->socket && vsock_socket_path_resolve(cfg->socket, b, sizeof(b)) == 0 &&
		    vsock_socket_paths_conflict(a, b)) {
			snprintf(why, why_len,
				 "peer CID %u: socket %s collides with this VM's socket %s (the same, or "
				 "one is the other with _<port> appended, where a guest's connections "
				 "to that host port would reach the other VM unlinked); give each VM "
				 "its own socket name",
				 p->cid, p->socket, cfg->socket);
			return -EINVAL;
		}
		for (unsigned int k = 0; k < i; k++)
			if (vsock_socket_path_resolve(cfg->peers[k].socket, b, sizeof(b)) == 0 &&
			    vsock_socket_paths_conflict(a, b)) {
				snprintf(why, why_len,
					 "peer CIDs %u and %u: sockets %s and %s collide (the same, or one "
					 "is the other with _<port> appended); give each VM its own "
					 "socket name",
					 cfg->peers[k].cid, p->cid, cfg->peers[k].socket, p->socket);
				return -EINVAL;
			}
	}
	return 0;
}

int vsock_routes_init(struct vsock_routes *r, const struct avp_vsock_cfg *cfg, char *why,
		      size_t why_len)
{
	const size_t sun_max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	memset(r, 0, sizeof(*r));
	if (cfg->npeers > AVP_VSOCK_MAX_PEERS) {
		snprintf(why, why_len, "at most %d peers", AVP_VSOCK_MAX_PEERS);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < cfg->npeers; i++) {
		const struct avp_vsock_peer *p = &cfg->peers[i];

		/* 5.10.4: 0-2 and 0xffffffff are nobody's; the guest's own
		 * CID would be a loop the guest's stack never sends us. */
		if (p->cid < AVP_VSOCK_MIN_CID || p->cid > AVP_VSOCK_MAX_CID) {
			snprintf(why, why_len, "peer CID %u: expected %d-%u", p->cid,
				 AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID);
			goto bad;
		}
		if (p->cid == cfg->cid) {
			snprintf(why, why_len, "peer CID %u is this VM's own CID", p->cid);
			goto bad;
		}
		if (!p->socket || !*p->socket || strlen(p->socket) > sun_max) {
			snprintf(why, why_len, "peer CID %u: socket path empty or longer than %zu "
				 "bytes", p->cid, sun_max);
			goto bad;
		}
		for (unsigned int k = 0; k < i; k++)
			if (cfg->peers[k].cid == p->cid) {
				snprintf(why, why_len, "peer CID %u is given twice", p->cid);
				goto bad;
			}
		r->peer[i].cid = p->cid;
		r->peer[i].socket = strdup(p->socket);
		r->n = i + 1;
		if (!r->peer[i].socket) {
			vsock_routes_free(r);
			return -ENOMEM;
		}
	}
	if (check_collisions(cfg, why, why_len))
		goto bad;
	return 0;
bad:
	vsock_routes_free(r);
	return -EINVAL;
}

void vsock_routes_free(struct vsock_routes *r)
{
	for (unsigned int i = 0; i < r->n; i++)
		free(r->peer[i].socket);
	memset(r, 0, sizeof(*r));
}

const char *vsock_route_lookup(const struct vsock_routes *r, uint64_t cid)
{
	for (unsigned int i = 0; i < r->n; i++)
		if (r->peer[i].cid == cid)
			return r->peer[i].socket;
	return NULL;
}

static const char *type_name(uint16_t type)
{
	return type == VIRTIO_VSOCK_TYPE_STREAM	   ? "STREAM"
	       : type == VIRTIO_VSOCK_TYPE_SEQPACKET ? "SEQPACKET"
						     : NULL;
}

int vsock_line_connect(char *buf, size_t len, uint32_t port, uint32_t from_cid, uint16_t type)
{
	int n;

	if (from_cid && !type_name(type))
		return -EINVAL;
	n = from_cid ? snprintf(buf, len, "CONNECT %u FROM %u %s\n", port, from_cid, type_name(type))
		     : snprintf(buf, len, "CONNECT %u\n", port);

	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

/* 1-10 decimal digits at *pos, up to UINT32_MAX; *pos moves past them. */
static int parse_u32(const char *s, size_t len, size_t *pos, uint32_t *out)
{
	uint64_t v = 0;
	size_t start = *pos;

	while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9' && *pos - start < 11)
		v = v * 10 + (uint64_t)(s[(*pos)++] - '0');
	if (*pos == start || *pos - start > 10 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static size_t strip_cr(const char *line, size_t len)
{
	return len && line[len - 1] == '\r' ? len - 1 : len;
}

int vsock_parse_connect(const char *line, size_t len, uint32_t *port, uint32_t *from_cid,
			uint16_t *type)
{
	size_t pos = 8;
	uint32_t p, from = 0;
	uint16_t t = VIRTIO_VSOCK_TYPE_STREAM;

	len = strip_cr(line, len);
	if (len <= 8 || memcmp(line, "CONNECT ", 8) != 0 || parse_u32(line, len, &pos, &p))
		return -EINVAL;
	if (pos < len) {
		if (len - pos <= 6 || memcmp(line + pos, " FROM ", 6) != 0)
			return -EINVAL;
		pos += 6;
		if (parse_u32(line, len, &pos, &from) || (pos < len && line[pos] != ' ') ||
		    from < AVP_VSOCK_MIN_CID || from > AVP_VSOCK_MAX_CID)
			return -EINVAL;
		/* The type, and the framed protocol with it; none: an avp
		 * before issue 18, which sends bare bytes after OK (type 0,
		 * for the caller to refuse rather than misread). */
		if (pos == len)
			t = 0;
		else if (++pos, len - pos == 6 && memcmp(line + pos, "STREAM", 6) == 0)
			t = VIRTIO_VSOCK_TYPE_STREAM;
		else if (len - pos == 9 && memcmp(line + pos, "SEQPACKET", 9) == 0)
			t = VIRTIO_VSOCK_TYPE_SEQPACKET;
		else
			return -EINVAL;
	}
	*port = p;
	*from_cid = from;
	*type = t;
	return 0;
}

int vsock_parse_ok(const char *line, size_t len, uint32_t *port)
{
	size_t pos = 3;

	len = strip_cr(line, len);
	if (len <= 3 || memcmp(line, "OK ", 3) != 0 || parse_u32(line, len, &pos, port) ||
	    pos != len)
		return -EINVAL;
	return 0;
}
