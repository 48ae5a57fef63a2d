/* --vsock cid=N,socket=PATH (a bundle's {"type": "vsock", "cid",
 * "socket"}) and --vsock-peer CID:PATH: the vsock device's keys and rules
 * (the device itself is src/devices/virtio_vsock.c). */
#include <errno.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "avp/devices/virtio_vsock.h"

/* Its lines in avp run --help. */
static const char vsock_help[] = "virtio-vsock with guest CID N (3-4294967294); host\n"
	"programs connect to PATH and send 'CONNECT <port>\\n';\n"
	"the guest's connections to CID 2 port P reach PATH_P";
static const char peer_help[] = "let the guest reach the VM with CID (whose --vsock\n"
	"socket is PATH) by vsock; repeat (up to 16); other\n"
	"CIDs are refused (avp system up sets these)";

static const struct avp_key vsock_keys[] = {
	{ .name = "cid", .type = AVP_KEY_UINT, .offset = offsetof(struct avp_vsock_cfg, cid),
	  .flags = AVP_KEY_REQUIRED, .min = AVP_VSOCK_MIN_CID, .max = AVP_VSOCK_MAX_CID },
	{ .name = "socket", .type = AVP_KEY_PATH, .offset = offsetof(struct avp_vsock_cfg, socket),
	  .flags = AVP_KEY_REQUIRED },
	{ 0 },
};

static int cid_check(uint32_t cid, struct avp_config_err *e)
{
	if (cid < AVP_VSOCK_MIN_CID || cid > AVP_VSOCK_MAX_CID)
		return avp_config_fail(e, "cid", "CID %u is reserved (use %d to %u)", cid,
				       AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID);
	return 0;
}

static int vsock_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	const struct avp_vsock_cfg *vs = opts;
	int ret = cid_check(vs->cid, e);

	(void)given;
	if (ret == 0 && (!vs->socket || !*vs->socket))
		ret = avp_config_fail(e, "socket", "a vsock device needs the path of its socket");
	return ret;
}

/* Host programs on Unix sockets, and the guest's own connections to
 * PATH_port and to linked VMs' sockets (socket() only for Unix stream
 * sockets, src/core/seccomp.c). Data moves with send and recv (sendto,
 * recvfrom): sendmsg and recvmsg are never allowed, as they can pass
 * descriptors (SCM_RIGHTS) and a filter cannot read the msghdr to tell.
 * Where connect may reach is the jail's business: a filter cannot read a
 * socket address either (docs/security.md). */
static const int vsock_device_calls[] = {
	SCMP_SYS(connect),  SCMP_SYS(accept4),	SCMP_SYS(sendto), SCMP_SYS(recvfrom),
	SCMP_SYS(shutdown), SCMP_SYS(close),	SCMP_SYS(timerfd_settime),
	SCMP_SYS(getpeername), /* is PATH_port an avp VM's socket? (vsock_mux.c) */
};
static const int vsock_vcpu_calls[] = {
	SCMP_SYS(shutdown), SCMP_SYS(close), SCMP_SYS(timerfd_settime), /* reset drops streams */
};
static const int vsock_main_calls[] = {
	SCMP_SYS(shutdown), SCMP_SYS(timerfd_settime),
	SCMP_SYS(newfstatat), SCMP_SYS(unlink), /* removing our listening socket */
	SCMP_SYS(unlinkat), /* the same on arm64, which has no unlink (SIGSYS at exit) */
};
static const struct avp_seccomp_needs vsock_seccomp = {
	AVP_ROLE_CALLS(AVP_THREAD_MAIN, vsock_main_calls),
	AVP_ROLE_CALLS(AVP_THREAD_VCPU, vsock_vcpu_calls),
	AVP_ROLE_CALLS(AVP_THREAD_DEVICE, vsock_device_calls), .unix_stream_sockets = true,
};

const struct avp_config_type virtio_vsock_config = {
	.name = "vsock", .syntax = "cid=N,socket=PATH", .help = vsock_help, .keys = vsock_keys,
	.opts_size = sizeof(struct avp_vsock_cfg), .virtio = true, .max = 1,
	.too_many = "only one vsock device (at most one: one CID per VM)", .check = vsock_check,
	.seccomp = &vsock_seccomp,
};

/* ---- --vsock-peer CID:PATH: one entry per peer ---- */

static const struct avp_key peer_keys[] = {
	{ .name = "cid", .type = AVP_KEY_UINT, .offset = offsetof(struct avp_vsock_peer, cid),
	  .min = AVP_VSOCK_MIN_CID, .max = AVP_VSOCK_MAX_CID, .twice = "CID %s is given twice" },
	{ .name = "socket", .type = AVP_KEY_STRING, .offset = offsetof(struct avp_vsock_peer, socket) },
	{ 0 },
};

/* The path is everything after the first ':', so it may hold ':' (or ',')
 * itself: not the key=value grammar. */
static int peer_parse(const char *text, void *opts, uint32_t *given)
{
	struct avp_vsock_peer *peer = opts;
	const char *colon = strchr(text, ':');
	char cid_text[16];

	if (!colon || !colon[1] || (size_t)(colon - text) >= sizeof(cid_text))
		return -EINVAL;
	memcpy(cid_text, text, (size_t)(colon - text));
	cid_text[colon - text] = '\0';
	if (avp_parse_u32(cid_text, AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID, &peer->cid))
		return -EINVAL;
	peer->socket = strdup(colon + 1);
	*given = AVP_KEY_BIT(0) | AVP_KEY_BIT(1);
	return peer->socket ? 0 : -ENOMEM;
}

static int peer_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	(void)given;
	return cid_check(((const struct avp_vsock_peer *)opts)->cid, e);
}

static int peer_final(const struct avp_config *cfg, struct avp_config_err *e)
{
	const struct avp_vsock_cfg *vs = avp_config_device(cfg, &virtio_vsock_config, 0);
	const struct avp_vsock_peer *peer;

	if (!vs)
		return avp_config_fail(e, "vsock-peer", "--vsock-peer needs a vsock device of this "
				       "VM's own (--vsock cid=N,socket=PATH)");
	for (unsigned int i = 0; (peer = avp_config_device(cfg, &virtio_vsock_peer_config, i)); i++)
		if (peer->cid == vs->cid)
			return avp_config_fail(e, "vsock-peer", "CID %u is this VM's own (--vsock "
					       "cid=%u)", vs->cid, vs->cid);
	return 0;
}

const struct avp_config_type virtio_vsock_peer_config = {
	.name = "vsock-peer", .syntax = "CID:PATH", .help = peer_help, .keys = peer_keys,
	.opts_size = sizeof(struct avp_vsock_peer), .flags = AVP_TYPE_CLI_ONLY,
	.max = AVP_VSOCK_MAX_PEERS, .too_many = "at most 16 peers", .parse_text = peer_parse,
	.check = peer_check, .final_check = peer_final,
};
_Static_assert(AVP_VSOCK_MAX_PEERS == 16, "the too_many and help texts say 16");
