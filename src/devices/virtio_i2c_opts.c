/* --i2c dev=/dev/i2c-N,allow=0x50:0x51, a bundle's {"type": "i2c",
 * "dev": "/dev/i2c-N", "allow": "0x50:0x51"}: the I2C passthrough's keys
 * and rules. */
#include <linux/i2c-dev.h>
#include <seccomp.h>
#include <stddef.h>

#include "avp/devices/virtio_i2c.h"

static const char i2c_help[] = "virtio-i2c adapter passing the guest's transfers to the\n"
	"host adapter DEV, to the allowed 7-bit addresses only\n"
	"(colon separated, LOW-HIGH for a range)";

enum { K_DEV, K_ALLOW };
static const struct avp_key i2c_keys[] = {
	[K_DEV] = { .name = "dev", .type = AVP_KEY_PATH, .offset = offsetof(struct avp_i2c_cfg, dev),
		    .flags = AVP_KEY_REQUIRED, .twice = "\"%s\" is already used by another i2c device" },
	[K_ALLOW] = { .name = "allow", .type = AVP_KEY_STRING,
		      .offset = offsetof(struct avp_i2c_cfg, allow), .flags = AVP_KEY_REQUIRED },
	{ 0 },
};

static int i2c_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	const struct avp_i2c_cfg *c = opts;
	uint8_t map[16];
	const char *why = NULL;

	(void)given;
	if (virtio_i2c_parse_allow(c->allow, map, &why))
		return avp_config_fail(e, "allow", "%s", why);
	return 0;
}

/* A host adapter is host hardware: a confined bundle may not have one. */
static int i2c_confine(const void *opts, struct avp_config_err *e)
{
	const struct avp_i2c_cfg *c = opts;

	return avp_config_fail(e, "dev", "i2c device %s: a confined bundle may not reach host "
			       "I2C adapters", c->dev);
}

/* The transfers, on the device thread (src/devices/i2c_host.c). */
static const unsigned long i2c_device_ioctls[] = { I2C_RDWR, I2C_SMBUS, I2C_SLAVE };
static const struct avp_seccomp_needs i2c_seccomp = {
	.device_ioctls = i2c_device_ioctls,
	.ndevice_ioctls = sizeof(i2c_device_ioctls) / sizeof(i2c_device_ioctls[0]),
};

const struct avp_config_type virtio_i2c_config = {
	.name = "i2c", .syntax = "dev=/dev/i2c-N,allow=ADDR[:ADDR|:LOW-HIGH...]", .help = i2c_help,
	.keys = i2c_keys, .opts_size = sizeof(struct avp_i2c_cfg), .virtio = true, .max = 2,
	.too_many = "at most 2 i2c devices", .check = i2c_check, .confine_check = i2c_confine,
	.seccomp = &i2c_seccomp,
};
