/* --vsock cid=N,socket=PATH and --vsock-peer CID:PATH: the vsock
 * device's option keys (the device itself is src/devices/virtio_vsock.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "avp/config/options.h"
#include "avp/devices/virtio_vsock.h"

enum { K_CID, K_SOCKET };
static const struct avp_opt_key vsock_keys[] = {
	[K_CID] = { "cid", AVP_OPT_U32, AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID },
	[K_SOCKET] = { "socket", AVP_OPT_STR, 0, 0 },
	{ NULL, 0, 0, 0 },
};

int virtio_vsock_parse_opt(const char *text, struct avp_vsock_cfg *vsock)
{
	struct avp_opts o;
	char *socket = NULL;
	int ret = avp_opts_parse(&o, text, vsock_keys);

	if (ret == 0 && (!o.v[K_CID].set || !o.v[K_SOCKET].set))
		ret = -EINVAL;
	if (ret == 0)
		ret = avp_opts_strdup(&o, K_SOCKET, &socket);
	if (ret == 0) {
		free(vsock->socket);
		vsock->cid = o.v[K_CID].u32;
		vsock->socket = socket;
	}
	avp_opts_free(&o);
	return ret;
}

/* The path is everything after the first ':', so it may hold ':' (or ',')
 * itself: not the key=value grammar. */
int virtio_vsock_parse_peer(const char *text, struct avp_vsock_peer *peer)
{
	const char *colon = strchr(text, ':');
	char cid_text[16];
	uint32_t cid;
	char *socket;

	if (!colon || !colon[1] || (size_t)(colon - text) >= sizeof(cid_text))
		return -EINVAL;
	memcpy(cid_text, text, (size_t)(colon - text));
	cid_text[colon - text] = '\0';
	if (avp_parse_u32(cid_text, AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID, &cid))
		return -EINVAL;
	socket = strdup(colon + 1);
	if (!socket)
		return -ENOMEM;
	peer->cid = cid;
	peer->socket = socket;
	return 0;
}
