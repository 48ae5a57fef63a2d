/* --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX][,queues=N], a bundle's {"type":
 * "net", "tap" or "network", "mac", "queues"}: the net device's keys and
 * rules. */
#include <errno.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/devices/virtio_net.h"

/* Its lines in avp run --help. */
static const char net_help[] = "virtio-net on an existing or new tap; repeat (up to 4);\n"
	"queues=N queue pairs (default: one per vCPU; one\n"
	"on a tap made without multi_queue)";

enum { K_TAP, K_NETWORK, K_MAC, K_QUEUES };
static const struct avp_key net_keys[] = {
	[K_TAP] = { .name = "tap", .type = AVP_KEY_STRING, .offset = offsetof(struct avp_net_cfg, tap),
		    .twice = "tap \"%s\" is already used by another net device (given twice)" },
	[K_NETWORK] = { .name = "network", .type = AVP_KEY_STRING,
			.offset = offsetof(struct avp_net_cfg, network),
			.flags = AVP_KEY_BUNDLE_ONLY },
	[K_MAC] = { .name = "mac", .type = AVP_KEY_MAC, .offset = offsetof(struct avp_net_cfg, mac) },
	[K_QUEUES] = { .name = "queues", .type = AVP_KEY_UINT,
		       .offset = offsetof(struct avp_net_cfg, queues), .min = 1,
		       .max = VIRTIO_NET_MAX_PAIRS },
	{ 0 },
};

void virtio_net_network_tap(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "avp%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

static int net_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	struct avp_net_cfg *net = opts;
	/* A network's tap is the MAC's: point at what the user wrote. */
	const char *tap_key = net->network ? "mac" : "tap";

	if (!net->tap == !net->network)
		return avp_config_fail(e, NULL, "give either \"tap\" (an existing or new tap) or "
				       "\"network\" (a network of the system file), not %s",
				       net->tap ? "both" : "neither");
	if (given & AVP_KEY_BIT(K_MAC))
		net->mac_set = true;
	if (given & AVP_KEY_BIT(K_QUEUES))
		net->queues_given = true;
	if (net->network) {
		char name[16];

		if (!net->mac_set)
			return avp_config_fail(e, "mac", "missing (required)");
		virtio_net_network_tap(net->mac, name, sizeof(name));
		if (!(net->tap = strdup(name)))
			return -ENOMEM;
	}
	/* IFNAMSIZ - 1: the kernel's limit for interface names. */
	if (!*net->tap || strlen(net->tap) > 15 || strchr(net->tap, '/'))
		return avp_config_fail(e, tap_key, "tap name \"%s\" is not an interface name "
				       "(1-15 characters, no '/')", net->tap);
	if (net->mac_set && (net->mac[0] & 1))
		return avp_config_fail(e, "mac", "a multicast MAC cannot be a NIC's address");
	return 0;
}

static int net_confine(const void *opts, struct avp_config_err *e)
{
	const struct avp_net_cfg *net = opts;

	if (net->network)
		return 0;
	return avp_config_fail(e, "tap", "net device with tap %s: a confined bundle reaches host "
			       "networks only through a system file's \"networks\"", net->tap);
}

/* Activation and reset (register writes, on a vCPU) set the tap's
 * offloads to what the driver accepted, and reset detaches the tap queues
 * of pairs 2..N; the control queue's VQ_PAIRS_SET (device thread)
 * attaches and detaches them. */
static const unsigned long net_vcpu_ioctls[] = { TUNSETOFFLOAD, TUNSETQUEUE };
static const unsigned long net_device_ioctls[] = { TUNSETQUEUE };
static const struct avp_seccomp_needs net_seccomp = {
	.vcpu_ioctls = net_vcpu_ioctls,
	.nvcpu_ioctls = sizeof(net_vcpu_ioctls) / sizeof(net_vcpu_ioctls[0]),
	.device_ioctls = net_device_ioctls,
	.ndevice_ioctls = sizeof(net_device_ioctls) / sizeof(net_device_ioctls[0]),
};

const struct avp_config_type virtio_net_config = {
	.name = "net", .syntax = "tap=NAME[,mac=XX:XX:XX:XX:XX:XX][,queues=N]", .help = net_help,
	.keys = net_keys, .opts_size = sizeof(struct avp_net_cfg), .virtio = true,
	.max = AVP_MAX_NETS, .too_many = "at most 4 network devices", .check = net_check,
	.confine_check = net_confine, .seccomp = &net_seccomp,
};
_Static_assert(AVP_MAX_NETS == 4, "the too_many and help texts say 4");
