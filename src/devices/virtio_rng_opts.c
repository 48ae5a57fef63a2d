/* --rng, a bundle's {"type": "rng"}: a device without keys. */
#include "avp/devices/virtio_rng.h"

const struct avp_config_type virtio_rng_config = {
	.name = "rng",
	.flags = AVP_TYPE_NO_VALUE,
	.max = 1,
	.too_many = "only one rng device is supported (at most one per VM)",
	.virtio = true,
	.help = "virtio-rng fed by the host's getrandom()",
};
