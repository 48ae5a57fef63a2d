/* --rng, a bundle's {"type": "rng"}: a device without keys. */
#include "avp/devices/virtio_rng.h"

/* Its lines in avp run --help. */
static const char rng_help[] = "virtio-rng fed by the host's getrandom()";

const struct avp_config_type virtio_rng_config = {
	.name = "rng", .help = rng_help, .flags = AVP_TYPE_NO_VALUE, .virtio = true, .max = 1,
	.too_many = "only one rng device is supported (at most one per VM)",
};
