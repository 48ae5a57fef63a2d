/* --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX]: the net device's option keys. */
#include <errno.h>
#include <stdlib.h>

#include "avp/config/options.h"
#include "avp/devices/virtio_net.h"

int virtio_net_parse_opt(const char *text, struct avp_net_cfg *net)
{
	enum { K_TAP, K_MAC };
	static const struct avp_opt_key net_keys[] = {
		{ "tap", AVP_OPT_STR, 0, 0 }, { "mac", AVP_OPT_STR, 0, 0 }, { NULL, 0, 0, 0 },
	};
	struct avp_net_cfg n = { 0 };
	struct avp_opts o;
	int ret = avp_opts_parse(&o, text, net_keys);

	if (ret == 0 && !o.v[K_TAP].set)
		ret = -EINVAL;
	if (ret == 0 && o.v[K_MAC].set) {
		ret = avp_parse_mac(o.v[K_MAC].str, n.mac);
		n.mac_set = true;
	}
	if (ret == 0)
		ret = avp_opts_strdup(&o, K_TAP, &n.tap);
	if (ret == 0)
		*net = n;
	avp_opts_free(&o);
	return ret;
}
