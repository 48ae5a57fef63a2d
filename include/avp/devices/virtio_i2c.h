/* virtio-i2c (VIRTIO 1.2+, "I2C Adapter Device", device ID 34): the
 * guest's I2C transfers go to a host adapter (/dev/i2c-N), to the
 * addresses the configuration allows and no others. Layouts, limits and
 * the backend seam the tests use. */
#ifndef AVP_DEVICES_VIRTIO_I2C_H
#define AVP_DEVICES_VIRTIO_I2C_H

#include <stdbool.h>
#include <stdint.h>

#include "avp/config/options.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/virtio/virtio_ids.h"

/* --i2c dev=/dev/i2c-N,allow=0x50:0x51:0x60-0x67 */
struct avp_i2c_cfg {
	char *dev;
	char *allow;
};
extern const struct avp_config_type virtio_i2c_config;

/* allow's text into a bitmap of 7-bit addresses: colon separated
 * addresses or LOW-HIGH ranges, in hex (0x..) or decimal, within
 * 0x08-0x77 (the others are reserved by the I2C specification). 0, or
 * -EINVAL with *why. */
int virtio_i2c_parse_allow(const char *text, uint8_t map[16], const char **why);

#define VIRTIO_I2C_F_ZERO_LENGTH_REQUEST 0

/* 8 bytes the driver writes, then the buffer, then 1 status byte. */
struct virtio_i2c_out_hdr {
	uint16_t addr; /* 7-bit address << 1; 10-bit ones are refused */
	uint16_t padding;
	uint32_t flags;
} __attribute__((packed));

#define VIRTIO_I2C_FLAGS_FAIL_NEXT (1u << 0)
#define VIRTIO_I2C_FLAGS_M_RD (1u << 1)

#define VIRTIO_I2C_MSG_OK 0
#define VIRTIO_I2C_MSG_ERR 1

/* Longest buffer one request may carry (i2c-dev takes up to 8192). */
#define VIRTIO_I2C_MAX_LEN 4096u
/* Requests of one group (FAIL_NEXT chained) sent as one transfer; the
 * kernel's I2C_RDWR takes at most 42 messages. */
#define VIRTIO_I2C_MAX_GROUP 32u
/* Groups served per wakeup before yielding (dev_wait.h). */
#define VIRTIO_I2C_BUDGET 16

/* One message of a transfer, as the backend sees it. */
struct virtio_i2c_msg {
	uint16_t addr; /* 7-bit */
	bool read;
	uint16_t len;
	uint8_t *buf; /* len bytes: to write, or to read into */
};

/* Where transfers go: the host adapter (src/devices/i2c_host.c) or a
 * test's fake. transfer runs the messages as one combined transaction
 * (repeated starts between them): 0, or -errno and nothing is read. */
struct virtio_i2c_backend {
	int (*transfer)(void *ctx, struct virtio_i2c_msg *msgs, unsigned int n);
	void (*close)(void *ctx); /* at destroy; may be NULL */
	void *ctx;
};

/* Whether cfg->dev opens as an I2C adapter, before anything is built
 * (preflight): 0, or -errno with the reason logged once. */
int virtio_i2c_check_host(const struct avp_i2c_cfg *cfg);

/* The device on the host adapter cfg->dev; ops->destroy closes it. */
int virtio_i2c_create(struct virtio_dev **out, const struct avp_i2c_cfg *cfg);
/* The same model without an adapter (--describe): every transfer fails. */
int virtio_i2c_create_model(struct virtio_dev **out, const struct avp_i2c_cfg *cfg);
/* The device on a given backend (tests, fuzzing). */
int virtio_i2c_create_backend(struct virtio_dev **out, const struct avp_i2c_cfg *cfg,
			      const struct virtio_i2c_backend *be);

#endif
