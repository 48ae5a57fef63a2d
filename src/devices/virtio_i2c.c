/* virtio-i2c (VIRTIO 1.2+, "I2C Adapter Device", device ID 34): one
 * request queue; each chain is one I2C message (an 8-byte header, the
 * buffer, a status byte). Chains linked by VIRTIO_I2C_FLAGS_FAIL_NEXT
 * form a group, which we run as one combined transaction on the backend
 * (a register address written, then read after a repeated start, must not
 * be split: another master could come in between).
 *
 * Every message of a group is checked before any is forwarded: an
 * address outside the allowlist, a 10-bit address, reserved flag bits, a
 * buffer on the wrong side of the chain or too long make the whole group
 * fail with VIRTIO_I2C_MSG_ERR and nothing reaches the adapter ("a
 * device needs to fail them instead of attempting to execute them"). */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_i2c.h"
#include "avp/log.h"
#include "devices/i2c_host.h"

/* The device-writable part of a message's chain, kept until its group
 * runs: Linux sends one buffer and the status byte; more segments than
 * this is a driver we do not serve (ERR). */
#define MAX_IN_SEGS 4

struct pending {
	uint16_t head;
	bool bad;
	bool fail_next;
	struct virtio_i2c_msg msg;
	unsigned int n_in;
	struct iovec in[MAX_IN_SEGS];
};

struct vi2c {
	struct virtio_dev dev;
	struct virtio_i2c_backend be;
	uint8_t allow[16];

	struct pending group[VIRTIO_I2C_MAX_GROUP];
	unsigned int ngroup;
	bool fail_carry; /* the last group failed and asked to fail the next */
	uint8_t bounce[VIRTIO_I2C_MAX_GROUP][VIRTIO_I2C_MAX_LEN];

	struct dev_resched resched;
	struct virtq_chain chain;
};

static struct vi2c *vi_of(struct virtio_dev *dev)
{
	return dev->priv;
}

/* ---- the allowlist ---- */

static int parse_addr(const char *s, size_t n, unsigned int *out)
{
	char buf[8];
	char *end;
	unsigned long v;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(buf, &end, 0);
	if (errno || *end || v < 0x08 || v > 0x77)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int virtio_i2c_parse_allow(const char *text, uint8_t map[16], const char **why)
{
	const char *p = text;

	memset(map, 0, 16);
	if (!text || !*text)
		return *why = "no address allowed: allow=ADDR[:ADDR|:LOW-HIGH...]", -EINVAL;
	for (;;) {
		size_t n = strcspn(p, ":");
		const char *dash = memchr(p, '-', n);
		unsigned int lo, hi;

		if (dash ? parse_addr(p, (size_t)(dash - p), &lo) ||
				   parse_addr(dash + 1, n - (size_t)(dash - p) - 1, &hi)
			 : parse_addr(p, n, &lo))
			return *why = "an allowed address is a 7-bit address in 0x08-0x77, or a "
				      "range LOW-HIGH of them",
			       -EINVAL;
		if (!dash)
			hi = lo;
		if (hi < lo)
			return *why = "a range's first address is above its last", -EINVAL;
		for (unsigned int a = lo; a <= hi; a++) {
			if (map[a / 8] & (1u << (a % 8)))
				return *why = "an address is allowed twice", -EINVAL;
			map[a / 8] |= (uint8_t)(1u << (a % 8));
		}
		if (p[n] != ':')
			return 0;
		p += n + 1;
	}
}

static bool allowed(const struct vi2c *d, uint16_t addr)
{
	return addr < 128 && (d->allow[addr / 8] >> (addr % 8)) & 1;
}

/* ---- requests ---- */

/* Copies src into the saved writable segments from byte off. */
static void write_in(const struct pending *p, size_t off, const void *src, size_t len)
{
	const uint8_t *s = src;

	for (unsigned int i = 0; i < p->n_in && len; i++) {
		size_t seg = p->in[i].iov_len;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		size_t n = seg - off < len ? seg - off : len;

		memcpy((uint8_t *)p->in[i].iov_base + off, s, n);
		s += n;
		len -= n;
		off = 0;
	}
}

/* The chain just popped, checked, as the next message of the group. */
static void take(struct vi2c *d, struct pending *p, uint8_t *bounce)
{
	const struct virtq_chain *c = &d->chain;
	struct virtio_i2c_out_hdr hdr;
	uint32_t flags;
	uint16_t addr;
	size_t len;

	*p = (struct pending){ .head = c->head, .bad = true };
	/* Too many segments: returned untouched (we would not find its
	 * last byte among the ones we keep). */
	p->n_in = c->n_in <= MAX_IN_SEGS ? c->n_in : 0;
	memcpy(p->in, &c->iov[c->n_out], p->n_in * sizeof(struct iovec));
	if (c->out_bytes < sizeof(hdr) || c->in_bytes < 1 || c->n_in > MAX_IN_SEGS) {
		/* Without a header we cannot tell whether it asked to fail
		 * the next one: it ends its group. */
		return;
	}
	virtq_chain_read(c, 0, &hdr, sizeof(hdr));
	flags = le32toh(hdr.flags);
	addr = le16toh(hdr.addr);
	p->fail_next = flags & VIRTIO_I2C_FLAGS_FAIL_NEXT;
	p->msg.read = flags & VIRTIO_I2C_FLAGS_M_RD;
	p->msg.buf = bounce;
	/* The buffer is on the side M_RD says: device-writable before the
	 * status byte for a read, device-readable after the header for a
	 * write; the other side holds nothing else. */
	len = p->msg.read ? c->in_bytes - 1 : c->out_bytes - sizeof(hdr);
	if ((p->msg.read ? c->out_bytes != sizeof(hdr) : c->in_bytes != 1) ||
	    (flags & ~(VIRTIO_I2C_FLAGS_FAIL_NEXT | VIRTIO_I2C_FLAGS_M_RD)) || len > VIRTIO_I2C_MAX_LEN)
		return;
	/* 7-bit form: bits 15-8 zero, bit 0 zero; the 10-bit form (11110 in
	 * bits 7-3) is not forwarded: the allowlist names 7-bit addresses. */
	if ((addr & 0xff01) || (addr & 0xf8) == 0xf0 || !allowed(d, addr >> 1))
		return;
	p->msg.addr = addr >> 1;
	p->msg.len = (uint16_t)len;
	if (!p->msg.read)
		virtq_chain_read(c, sizeof(hdr), bounce, len);
	p->bad = false;
}

/* Runs the group and returns every chain of it. */
static void run_group(struct vi2c *d)
{
	struct virtio_i2c_msg msgs[VIRTIO_I2C_MAX_GROUP];
	uint16_t heads[VIRTIO_I2C_MAX_GROUP];
	uint32_t written[VIRTIO_I2C_MAX_GROUP];
	bool ok = !d->fail_carry;
	unsigned int n = d->ngroup;

	if (!n)
		return;
	for (unsigned int i = 0; i < n; i++) {
		ok &= !d->group[i].bad;
		msgs[i] = d->group[i].msg;
	}
	if (ok && d->be.transfer(d->be.ctx, msgs, n) != 0)
		ok = false;
	for (unsigned int i = 0; i < n; i++) {
		const struct pending *p = &d->group[i];
		uint8_t status = ok ? VIRTIO_I2C_MSG_OK : VIRTIO_I2C_MSG_ERR;
		size_t data = ok && p->msg.read ? p->msg.len : 0;

		size_t in_total = 0;

		for (unsigned int s = 0; s < p->n_in; s++)
			in_total += p->in[s].iov_len;
		if (data)
			write_in(p, 0, p->msg.buf, data);
		/* The status byte is the chain's last writable byte; a well-
		 * formed chain's writable part is the read buffer and it. */
		if (in_total)
			write_in(p, in_total - 1, &status, 1);
		written[i] = (uint32_t)in_total;
		heads[i] = p->head;
	}
	d->fail_carry = !ok && d->group[n - 1].fail_next;
	d->ngroup = 0;
	virtio_dev_complete_many(&d->dev, 0, heads, written, n);
}

static void serve(struct vi2c *d)
{
	struct virtio_dev *dev = &d->dev;
	unsigned int groups = 0;

	for (;;) {
		int ret;

		if (d->ngroup == 0 && groups >= VIRTIO_I2C_BUDGET) {
			dev_resched_request(&d->resched);
			return;
		}
		ret = virtq_pop(&dev->vqs[0], &d->chain);
		if (ret == 0)
			break;
		if (ret == -EIO) {
			d->ngroup = 0;
			virtio_dev_needs_reset(dev, "request ring is broken");
			return;
		}
		if (ret != 1) {
			if (d->chain.head != UINT16_MAX) {
				/* A broken chain ends the group it was in: the group fails. */
				struct pending *p = &d->group[d->ngroup];

				*p = (struct pending){ .head = d->chain.head, .bad = true };
				d->ngroup++;
				run_group(d);
				groups++;
			}
			continue;
		}
		take(d, &d->group[d->ngroup], d->bounce[d->ngroup]);
		if (!d->group[d->ngroup++].fail_next || d->ngroup == VIRTIO_I2C_MAX_GROUP) {
			run_group(d);
			groups++;
		}
	}
	/* The queue ran dry inside a group: the driver posted a group
	 * without its last message. Run what came rather than hold chains
	 * across wakeups; FAIL_NEXT carries over to what follows. */
	run_group(d);
}

/* ---- device ops ---- */

static void vi_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	if (q == 0)
		serve(vi_of(dev));
}

static void vi_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vi2c *d = vi_of(dev);

	(void)events;
	if (dev_resched_take(&d->resched, fd))
		serve(d);
}

static uint64_t vi_features(struct virtio_dev *dev)
{
	(void)dev;
	/* Mandatory ("A device MUST offer ... ZERO_LENGTH_REQUEST"). */
	return 1ull << VIRTIO_I2C_F_ZERO_LENGTH_REQUEST;
}

static int vi_activate(struct virtio_dev *dev)
{
	/* "MUST reject any driver that doesn't negotiate this feature": a
	 * driver that infers the direction from the buffers would have every
	 * read treated as a write. */
	if (!virtio_has_feature(dev, VIRTIO_I2C_F_ZERO_LENGTH_REQUEST))
		return -EINVAL;
	return dev_watch_set(dev, &vi_of(dev)->resched.watch, true);
}

static void vi_reset(struct virtio_dev *dev)
{
	struct vi2c *d = vi_of(dev);

	dev_watch_set(dev, &d->resched.watch, false);
	dev_resched_take(&d->resched, d->resched.watch.fd);
	d->ngroup = 0;
	d->fail_carry = false;
}

static void vi_destroy(struct virtio_dev *dev)
{
	struct vi2c *d = vi_of(dev);

	virtio_dev_fini(dev);
	if (d->be.close)
		d->be.close(d->be.ctx);
	dev_resched_fini(&d->resched);
	free(d);
}

static const struct virtio_dev_ops vi_ops = {
	.type = "virtio-i2c",
	.device_id = VIRTIO_ID_I2C,
	.num_queues = 1,
	.features = vi_features,
	.activate = vi_activate,
	.queue_notify = vi_queue_notify,
	.fd_ready = vi_fd_ready,
	.reset = vi_reset,
	.destroy = vi_destroy,
};

int virtio_i2c_create_backend(struct virtio_dev **out, const struct avp_i2c_cfg *cfg,
			      const struct virtio_i2c_backend *be)
{
	struct vi2c *d;
	const char *why = NULL;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	ret = virtio_i2c_parse_allow(cfg->allow, d->allow, &why);
	if (ret) {
		avp_err("virtio-i2c: allow: %s", why);
		free(d);
		return ret;
	}
	ret = dev_resched_init(&d->resched);
	if (ret) {
		avp_err("virtio-i2c: eventfd: %s", strerror(-ret));
		free(d);
		return ret;
	}
	d->be = *be;
	/* No configuration space ("None currently defined"). */
	virtio_dev_init(&d->dev, &vi_ops, d, NULL, 0);
	*out = &d->dev;
	return 0;
}

static int no_transfer(void *ctx, struct virtio_i2c_msg *msgs, unsigned int n)
{
	(void)ctx;
	(void)msgs;
	(void)n;
	return -ENODEV;
}

int virtio_i2c_create_model(struct virtio_dev **out, const struct avp_i2c_cfg *cfg)
{
	const struct virtio_i2c_backend none = { .transfer = no_transfer };

	return virtio_i2c_create_backend(out, cfg, &none);
}

int virtio_i2c_create(struct virtio_dev **out, const struct avp_i2c_cfg *cfg)
{
	struct virtio_i2c_backend be;
	int ret = i2c_host_open(cfg->dev, &be);

	if (ret)
		return ret;
	ret = virtio_i2c_create_backend(out, cfg, &be);
	if (ret)
		be.close(be.ctx);
	return ret;
}
