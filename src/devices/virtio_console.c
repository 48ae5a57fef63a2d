/* virtio-console (VIRTIO 1.2, section 5.3): one port, no MULTIPORT, so
 * exactly two queues, receiveq (0) and transmitq (1), and no control
 * queue. The guest sees it as hvc0.
 *
 * Guest output (transmitq) goes to the chardev, which takes what the host
 * reader takes plus a bounded buffer and never blocks. A chain whose bytes
 * do not all fit stays ours and unused (5.3.6.2: the device consumes a
 * transmit buffer when it has written it), so the driver sees its buffers
 * wait in the queue while the host reader is slow; we watch the chardev's
 * output fd and go on once the host took some. Host input is
 * read straight into a receive buffer, and only when we hold one: while
 * the driver has posted none, the input stays in the fd (no input is lost
 * or buffered without bound) and we stop watching the fd until the driver
 * kicks receiveq, since a readable fd we cannot serve would wake the
 * device thread in a loop. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "avp/chardev.h"
#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_console.h"
#include "avp/log.h"

struct vcon {
	struct virtio_dev dev;
	struct virtio_console_config config;
	struct chardev *chr; /* host end */
	int in_fd;
	struct dev_watch input;
	struct dev_watch output; /* writable: while output waits in the chardev */
	struct dev_resched resched;
	bool input_done; /* end of input or a read error: never watch again */

	struct virtq_chain tx_chain;
	bool tx_have;	     /* tx_chain is ours: not all written yet */
	unsigned int tx_seg; /* where its unwritten bytes start */
	size_t tx_off;
	struct virtq_chain rx_chain;
	bool rx_have; /* rx_chain is ours, not yet completed */
};

static struct vcon *vcon_of(struct virtio_dev *dev)
{
	return dev->priv;
}

static uint64_t vcon_features(struct virtio_dev *dev)
{
	(void)dev;
	return 0; /* no SIZE, MULTIPORT or EMERG_WRITE (5.3.3) */
}

/* ---- guest to host ---- */

/* Watches the output fd exactly while output waits in the chardev. */
static void output_watch_update(struct vcon *c)
{
	bool waiting = chardev_write_room(c->chr) < CHARDEV_OUT_BUF;

	if (waiting != c->output.active)
		dev_watch_set(&c->dev, &c->output, waiting);
}

/* Hands the held chain's bytes to the chardev; false when it is full and
 * some are left. Written straight from guest memory: if the guest changes
 * it meanwhile, only its own output is garbled. */
static bool tx_write(struct vcon *c)
{
	struct virtq_chain *ch = &c->tx_chain;

	while (c->tx_seg < ch->n_out) {
		const struct iovec *v = &ch->iov[c->tx_seg];
		size_t left = v->iov_len - c->tx_off;
		ssize_t n = left ? chardev_write(c->chr, (const uint8_t *)v->iov_base + c->tx_off,
						 left)
				 : 0;

		if (n >= 0 && (size_t)n < left) {
			c->tx_off += (size_t)n;
			return false;
		}
		c->tx_seg++;
		c->tx_off = 0;
	}
	return true;
}

static void tx_work(struct vcon *c)
{
	struct virtio_dev *dev = &c->dev;
	struct virtq_chain *ch = &c->tx_chain;
	unsigned int i;

	for (i = 0; i < VIRTIO_CONSOLE_BUDGET; i++) {
		if (!c->tx_have) {
			int ret = virtq_pop(&dev->vqs[VIRTIO_CONSOLE_TXQ], ch);

			if (ret == 0)
				break;
			if (ret == -EIO) {
				virtio_dev_needs_reset(dev, "transmit ring is broken");
				return;
			}
			c->tx_have = true;
			c->tx_off = 0;
			/* A malformed chain has nothing to write. */
			c->tx_seg = ret == 1 ? 0 : ch->n_out;
		}
		if (!tx_write(c))
			break; /* the chain waits; the output fd brings us back */
		if (ch->head != UINT16_MAX)
			virtio_dev_complete(dev, VIRTIO_CONSOLE_TXQ, ch->head, 0);
		c->tx_have = false;
	}
	if (i == VIRTIO_CONSOLE_BUDGET)
		dev_resched_request(&c->resched);
	output_watch_update(c);
}

/* The host reader took some: write out more, then go on with the chain
 * that waited for room. */
static void output_ready(struct vcon *c)
{
	chardev_flush(c->chr);
	if (c->tx_have)
		tx_work(c);
	else
		output_watch_update(c);
}

/* ---- host to guest ---- */

static void input_stop(struct vcon *c, const char *why)
{
	if (why)
		avp_warn("virtio-console: input: %s (no more input)", why);
	c->input_done = true;
	dev_watch_set(&c->dev, &c->input, false);
}

/* Takes a receive chain with room in it. 1, 0 (none) or -EIO. */
static int rx_pop(struct vcon *c)
{
	struct virtio_dev *dev = &c->dev;

	/* Bounded: a driver posting only useless chains waits for its next
	 * kick. */
	for (unsigned int i = 0; i < VIRTQ_MAX_SIZE; i++) {
		int ret = virtq_pop(&dev->vqs[VIRTIO_CONSOLE_RXQ], &c->rx_chain);

		if (ret == 0)
			return 0;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "receive ring is broken");
			return -EIO;
		}
		if (ret == 1 && c->rx_chain.in_bytes > 0)
			return 1;
		if (c->rx_chain.head != UINT16_MAX)
			virtio_dev_complete(dev, VIRTIO_CONSOLE_RXQ, c->rx_chain.head, 0);
	}
	return 0;
}

/* hangup: the fd reported an error or hangup, which a level-triggered
 * epoll keeps reporting even when nothing is left to read. */
static void rx_work(struct vcon *c, bool hangup)
{
	struct virtq_chain *ch = &c->rx_chain;

	for (unsigned int i = 0; i < VIRTIO_CONSOLE_BUDGET; i++) {
		ssize_t rd;
		int ret;

		if (!c->rx_have) {
			ret = rx_pop(c);
			if (ret == 0) {
				/* Resume on the driver's next receiveq kick. */
				dev_watch_set(&c->dev, &c->input, false);
				return;
			}
			if (ret < 0)
				return;
			c->rx_have = true;
		}
		/* n_in <= VIRTQ_MAX_CHAIN, which is IOV_MAX. */
		do
			rd = readv(c->in_fd, &ch->iov[ch->n_out], (int)ch->n_in);
		while (rd < 0 && errno == EINTR);
		if (rd < 0 && errno == EAGAIN) {
			if (hangup)
				input_stop(c, NULL);
			return; /* keep the chain for the next input */
		}
		if (rd <= 0) {
			/* End of input (e.g. stdin closed): keep the chain;
			 * the guest just gets no more input. */
			input_stop(c, rd < 0 ? strerror(errno) : NULL);
			return;
		}
		virtio_dev_complete(&c->dev, VIRTIO_CONSOLE_RXQ, ch->head, (uint32_t)rd);
		c->rx_have = false;
	}
	/* Budget spent: the fd is still readable and brings us back. */
}

/* ---- device ops ---- */

static void quiesce(struct vcon *c)
{
	dev_watch_set(&c->dev, &c->input, false);
	dev_watch_set(&c->dev, &c->output, false);
	dev_watch_set(&c->dev, &c->resched.watch, false);
}

/* After the driver broke a ring nothing runs until it resets us: stop
 * waiting on fds that would stay ready. */
static void check_broken(struct vcon *c)
{
	if (c->dev.status & VIRTIO_STATUS_NEEDS_RESET)
		quiesce(c);
}

static bool input_open(const struct vcon *c)
{
	return c->in_fd >= 0 && !c->input_done;
}

static void vcon_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct vcon *c = vcon_of(dev);

	if (q == VIRTIO_CONSOLE_TXQ) {
		tx_work(c);
	} else if (q == VIRTIO_CONSOLE_RXQ && input_open(c)) {
		if (!c->input.active)
			dev_watch_set(dev, &c->input, true);
		rx_work(c, false);
	}
	check_broken(c);
}

static void vcon_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vcon *c = vcon_of(dev);

	if (dev_resched_take(&c->resched, fd))
		tx_work(c);
	else if (fd == c->output.fd && c->output.active)
		output_ready(c);
	else if (fd == c->in_fd && input_open(c))
		rx_work(c, events & (EPOLLERR | EPOLLHUP));
	check_broken(c);
}

static int vcon_activate(struct virtio_dev *dev)
{
	struct vcon *c = vcon_of(dev);
	int ret;

	/* Registering again is harmless, and the transport may have dropped
	 * our fds without telling us. */
	ret = dev_watch_set(dev, &c->resched.watch, true);
	if (ret)
		return ret;
	/* Output left from before a reset still goes out. */
	c->output.active = false;
	output_watch_update(c);
	return input_open(c) ? dev_watch_set(dev, &c->input, true) : 0;
}

static void vcon_reset(struct virtio_dev *dev)
{
	struct vcon *c = vcon_of(dev);

	/* The held chains belong to the old queues; no input was read into
	 * the receive one yet, so nothing is lost, and the driver gave up on
	 * the rest of the transmit one. */
	quiesce(c);
	dev_resched_take(&c->resched, c->resched.watch.fd);
	c->rx_have = false;
	c->tx_have = false;
}

static void vcon_free(struct vcon *c)
{
	chardev_close(c->chr);
	dev_resched_fini(&c->resched);
	free(c);
}

static void vcon_destroy(struct virtio_dev *dev)
{
	virtio_dev_fini(dev);
	vcon_free(vcon_of(dev));
}

static const struct virtio_dev_ops vcon_ops = {
	.type = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.num_queues = 2,
	.features = vcon_features,
	.activate = vcon_activate,
	.queue_notify = vcon_queue_notify,
	.fd_ready = vcon_fd_ready,
	.reset = vcon_reset,
	.destroy = vcon_destroy,
};

/* On failure releases the host end. */
static int vcon_new(struct virtio_dev **out, struct chardev *chr)
{
	struct vcon *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		chardev_close(chr);
		return -ENOMEM;
	}
	c->chr = chr;
	c->in_fd = chardev_input_fd(chr);
	ret = dev_resched_init(&c->resched);
	if (ret) {
		vcon_free(c);
		return ret;
	}
	dev_watch_init(&c->input, c->in_fd, EPOLLIN);
	dev_watch_init(&c->output, chardev_output_fd(chr), EPOLLOUT);
	/* 0 x 0: "unknown"; cols/rows are only read with F_SIZE anyway. */
	c->config.max_nr_ports = htole32(1);
	virtio_dev_init(&c->dev, &vcon_ops, c, &c->config, sizeof(c->config));
	*out = &c->dev;
	return 0;
}

int virtio_console_create_fds(struct virtio_dev **out, int out_fd, int in_fd)
{
	struct chardev *chr;
	int ret = chardev_open_fds(&chr, out_fd, in_fd);

	if (ret) {
		avp_err("virtio-console: host fds: %s", strerror(-ret));
		return ret;
	}
	return vcon_new(out, chr);
}

int virtio_console_create(struct virtio_dev **out, const struct avp_chardev_cfg *cfg)
{
	return virtio_console_create_vm(out, cfg, NULL);
}

int virtio_console_create_vm(struct virtio_dev **out, const struct avp_chardev_cfg *cfg,
			     const struct avp_config *vm_cfg)
{
	struct chardev *chr;
	int ret;

	/* Standard input, a pty and a socket are interactive; a file end is
	 * output only. */
	ret = chardev_open_named(&chr, cfg, cfg->kind == AVP_CHR_STDIO, "console", vm_cfg);
	if (ret)
		return ret;
	return vcon_new(out, chr);
}
