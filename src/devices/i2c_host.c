/* The host side of virtio-i2c: /dev/i2c-N (i2c-dev). An adapter that does
 * plain I2C gets each group as one I2C_RDWR (combined transaction); one
 * that only does SMBus (I2C_FUNCS without I2C_FUNC_I2C, such as the
 * kernel's i2c-stub) gets the SMBus transaction that means the same, for
 * the shapes SMBus has (quick, byte, byte/word data, I2C block); any
 * other shape fails, as it would on that hardware.
 *
 * The device thread makes the ioctls; virtio_i2c_opts.c lists them for
 * its seccomp filter. */
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "avp/log.h"
#include "devices/i2c_host.h"

struct i2c_host {
	int fd;
	unsigned long funcs;
};

int i2c_host_smbus_of(const struct virtio_i2c_msg *msgs, unsigned int n, unsigned long funcs,
		      struct i2c_host_smbus *t)
{
	const struct virtio_i2c_msg *m = msgs;
	unsigned long need;

	memset(t, 0, sizeof(*t));
	if (n == 1 && m->len == 0) {
		t->read_write = m->read ? I2C_SMBUS_READ : I2C_SMBUS_WRITE;
		t->size = I2C_SMBUS_QUICK;
		need = I2C_FUNC_SMBUS_QUICK;
	} else if (n == 1 && m->read && m->len == 1) {
		t->read_write = I2C_SMBUS_READ;
		t->size = I2C_SMBUS_BYTE;
		need = I2C_FUNC_SMBUS_READ_BYTE;
	} else if (n == 1 && !m->read) {
		t->read_write = I2C_SMBUS_WRITE;
		t->command = m->buf[0];
		if (m->len == 1) {
			t->size = I2C_SMBUS_BYTE;
			need = I2C_FUNC_SMBUS_WRITE_BYTE;
		} else if (m->len == 2) {
			t->size = I2C_SMBUS_BYTE_DATA;
			t->block[0] = m->buf[1];
			need = I2C_FUNC_SMBUS_WRITE_BYTE_DATA;
		} else if (m->len == 3) {
			t->size = I2C_SMBUS_WORD_DATA;
			t->block[0] = m->buf[1]; /* the word, little-endian, as sent */
			t->block[1] = m->buf[2];
			need = I2C_FUNC_SMBUS_WRITE_WORD_DATA;
		} else if (m->len - 1u <= I2C_SMBUS_BLOCK_MAX) {
			t->size = I2C_SMBUS_I2C_BLOCK_DATA;
			t->block[0] = (unsigned char)(m->len - 1);
			memcpy(&t->block[1], &m->buf[1], m->len - 1u);
			need = I2C_FUNC_SMBUS_WRITE_I2C_BLOCK;
		} else {
			return -EOPNOTSUPP;
		}
	} else if (n == 2 && !m[0].read && m[0].len == 1 && m[1].read && m[1].addr == m[0].addr &&
		   m[1].len >= 1 && m[1].len <= I2C_SMBUS_BLOCK_MAX) {
		t->read_write = I2C_SMBUS_READ;
		t->command = m[0].buf[0];
		if (m[1].len == 1) {
			t->size = I2C_SMBUS_BYTE_DATA;
			need = I2C_FUNC_SMBUS_READ_BYTE_DATA;
		} else if (m[1].len == 2) {
			t->size = I2C_SMBUS_WORD_DATA;
			need = I2C_FUNC_SMBUS_READ_WORD_DATA;
		} else {
			t->size = I2C_SMBUS_I2C_BLOCK_DATA;
			t->block[0] = (unsigned char)m[1].len;
			need = I2C_FUNC_SMBUS_READ_I2C_BLOCK;
		}
	} else {
		return -EOPNOTSUPP;
	}
	return (funcs & need) == need ? 0 : -EOPNOTSUPP;
}

void i2c_host_smbus_result(const struct i2c_host_smbus *t, struct virtio_i2c_msg *msgs,
			   unsigned int n)
{
	struct virtio_i2c_msg *r = &msgs[n - 1];

	if (t->read_write != I2C_SMBUS_READ || !r->read || r->len == 0)
		return;
	if (t->size == I2C_SMBUS_I2C_BLOCK_DATA)
		memcpy(r->buf, &t->block[1], r->len); /* block[0]: the count */
	else
		memcpy(r->buf, t->block, r->len); /* byte, or word little-endian */
}

static int smbus_transfer(struct i2c_host *h, struct virtio_i2c_msg *msgs, unsigned int n)
{
	struct i2c_host_smbus t;
	union i2c_smbus_data data;
	struct i2c_smbus_ioctl_data args;
	int ret = i2c_host_smbus_of(msgs, n, h->funcs, &t);

	if (ret)
		return ret;
	/* i2c-dev addresses SMBus transactions to the file's client. */
	if (ioctl(h->fd, I2C_SLAVE, (unsigned long)msgs[0].addr) < 0)
		return -errno;
	memcpy(&data, t.block, sizeof(data));
	args = (struct i2c_smbus_ioctl_data){ .read_write = t.read_write, .command = t.command,
					      .size = t.size,
					      .data = t.size == I2C_SMBUS_QUICK ? NULL : &data };
	if (ioctl(h->fd, I2C_SMBUS, &args) < 0)
		return -errno;
	memcpy(t.block, &data, sizeof(t.block));
	i2c_host_smbus_result(&t, msgs, n);
	return 0;
}

static int host_transfer(void *ctx, struct virtio_i2c_msg *msgs, unsigned int n)
{
	struct i2c_host *h = ctx;
	struct i2c_msg km[VIRTIO_I2C_MAX_GROUP];
	struct i2c_rdwr_ioctl_data rdwr = { .msgs = km, .nmsgs = n };

	if (n == 0 || n > VIRTIO_I2C_MAX_GROUP)
		return -EINVAL;
	if (!(h->funcs & I2C_FUNC_I2C))
		return smbus_transfer(h, msgs, n);
	for (unsigned int i = 0; i < n; i++)
		km[i] = (struct i2c_msg){ .addr = msgs[i].addr,
					  .flags = msgs[i].read ? I2C_M_RD : 0,
					  .len = msgs[i].len,
					  .buf = msgs[i].buf };
	return ioctl(h->fd, I2C_RDWR, &rdwr) < 0 ? -errno : 0;
}

static void host_close(void *ctx)
{
	struct i2c_host *h = ctx;

	close(h->fd);
	free(h);
}

int i2c_host_open(const char *path, struct virtio_i2c_backend *be)
{
	struct i2c_host *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return -ENOMEM;
	h->fd = open(path, O_RDWR | O_CLOEXEC);
	if (h->fd < 0) {
		ret = -errno;
		avp_err("--i2c: %s: %s (give an I2C adapter's device, /dev/i2c-N: load i2c-dev, "
			"and check its permissions)", path, strerror(-ret));
		free(h);
		return ret;
	}
	if (ioctl(h->fd, I2C_FUNCS, &h->funcs) < 0) {
		ret = -errno;
		avp_err("--i2c: %s is not an I2C adapter (I2C_FUNCS: %s): give /dev/i2c-N", path,
			strerror(-ret));
		close(h->fd);
		free(h);
		return ret;
	}
	*be = (struct virtio_i2c_backend){ .transfer = host_transfer, .close = host_close, .ctx = h };
	return 0;
}

int virtio_i2c_check_host(const struct avp_i2c_cfg *cfg)
{
	struct virtio_i2c_backend be;
	int ret = i2c_host_open(cfg->dev, &be);

	if (!ret)
		be.close(be.ctx);
	return ret;
}
