/* The host side of virtio-i2c: an I2C adapter's character device
 * (/dev/i2c-N, the kernel's i2c-dev). Private to src/devices/. */
#ifndef AVP_DEVICES_I2C_HOST_H
#define AVP_DEVICES_I2C_HOST_H

#include "avp/devices/virtio_i2c.h"

/* Opens path and fills be (ctx owned by be->close). 0 or -errno, with
 * the reason logged once. */
int i2c_host_open(const char *path, struct virtio_i2c_backend *be);

/* The SMBus transaction that carries msgs on an adapter that has no
 * plain I2C transfers (the kernel's i2c-stub, many SMBus controllers),
 * for the functionality bits funcs: fills the i2c_smbus_ioctl_data
 * fields (read_write, command, size) and the data block. 0, or
 * -EOPNOTSUPP when no SMBus transaction means the same. */
struct i2c_host_smbus {
	char read_write;
	unsigned char command;
	unsigned int size;
	unsigned char block[34]; /* union i2c_smbus_data's size */
};
int i2c_host_smbus_of(const struct virtio_i2c_msg *msgs, unsigned int n, unsigned long funcs,
		      struct i2c_host_smbus *out);
/* After a successful read transaction: the bytes into the read message. */
void i2c_host_smbus_result(const struct i2c_host_smbus *t, struct virtio_i2c_msg *msgs,
			   unsigned int n);

#endif
