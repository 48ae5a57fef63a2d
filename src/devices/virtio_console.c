/* virtio-console (VIRTIO 1.2, section 5.3): one port, no MULTIPORT, so
 * exactly two queues, receiveq (0) and transmitq (1), and no control
 * queue. The guest sees it as hvc0.
 *
 * Guest output (transmitq) goes to the host end as it comes. Host input is
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
	struct chardev *chr; /* host end, or NULL with the fds below */
	int out_fd;
	int in_fd;
	bool own_fds;
	struct dev_watch input;
	struct dev_resched resched;
	bool input_done; /* end of input or a read error: never watch again */
	bool out_err_logged;

	struct virtq_chain tx_chain;
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

static void out_write(struct vcon *c, const uint8_t *buf, size_t len)
{
	if (c->chr) {
		chardev_write(c->chr, buf, len);
		return;
	}
	while (len) {
		ssize_t n = write(c->out_fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Console output is best effort: a reader that went
			 * away must not stop the guest. */
			if (!c->out_err_logged)
				avp_warn("virtio-console: output: %s (dropping output)",
					 n < 0 ? strerror(errno) : "nothing written");
			c->out_err_logged = true;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void tx_work(struct vcon *c)
{
	struct virtio_dev *dev = &c->dev;
	struct virtq_chain *ch = &c->tx_chain;

	for (unsigned int i = 0; i < VIRTIO_CONSOLE_BUDGET; i++) {
		int ret = virtq_pop(&dev->vqs[VIRTIO_CONSOLE_TXQ], ch);

		if (ret == 0)
			return;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "transmit ring is broken");
			return;
		}
		/* Written straight from guest memory: if the guest changes it
		 * meanwhile, only its own output is garbled. */
		for (unsigned int s = 0; ret == 1 && s < ch->n_out; s++)
			out_write(c, ch->iov[s].iov_base, ch->iov[s].iov_len);
		if (ch->head != UINT16_MAX)
			virtio_dev_complete(dev, VIRTIO_CONSOLE_TXQ, ch->head, 0);
	}
	dev_resched_request(&c->resched);
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
	return input_open(c) ? dev_watch_set(dev, &c->input, true) : 0;
}

static void vcon_reset(struct virtio_dev *dev)
{
	struct vcon *c = vcon_of(dev);

	/* The held receive chain belongs to the old queue; no input was
	 * read into it yet, so nothing is lost. */
	quiesce(c);
	dev_resched_take(&c->resched, c->resched.watch.fd);
	c->rx_have = false;
}

static void vcon_free(struct vcon *c)
{
	if (c->chr)
		chardev_close(c->chr);
	if (c->own_fds) {
		if (c->out_fd >= 0)
			close(c->out_fd);
		if (c->in_fd >= 0)
			close(c->in_fd);
	}
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

/* On failure releases the host end (chr, or the fds when own_fds). */
static int vcon_new(struct virtio_dev **out, struct chardev *chr, int out_fd, int in_fd,
		    bool own_fds)
{
	struct vcon *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		ret = -ENOMEM;
		if (chr)
			chardev_close(chr);
		if (own_fds && out_fd >= 0)
			close(out_fd);
		if (own_fds && in_fd >= 0)
			close(in_fd);
		return ret;
	}
	c->chr = chr;
	c->out_fd = out_fd;
	c->in_fd = in_fd;
	c->own_fds = own_fds;
	ret = dev_resched_init(&c->resched);
	if (ret) {
		vcon_free(c);
		return ret;
	}
	dev_watch_init(&c->input, in_fd, EPOLLIN);
	/* 0 x 0: "unknown"; cols/rows are only read with F_SIZE anyway. */
	c->config.max_nr_ports = htole32(1);
	virtio_dev_init(&c->dev, &vcon_ops, c, &c->config, sizeof(c->config));
	*out = &c->dev;
	return 0;
}

int virtio_console_create_fds(struct virtio_dev **out, int out_fd, int in_fd)
{
	int fl;

	if (in_fd >= 0) {
		fl = fcntl(in_fd, F_GETFL);
		if (fl < 0 || fcntl(in_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
			int err = errno;

			avp_err("virtio-console: input fd: %s", strerror(err));
			close(in_fd);
			if (out_fd >= 0)
				close(out_fd);
			return -err;
		}
	}
	return vcon_new(out, NULL, out_fd, in_fd, true);
}

int virtio_console_create(struct virtio_dev **out, const struct avp_chardev_cfg *cfg)
{
	struct chardev *chr;
	int ret;

	/* Only standard input is interactive; a file end is output only. */
	ret = chardev_open(&chr, cfg, cfg->kind == AVP_CHR_STDIO);
	if (ret)
		return ret;
	return vcon_new(out, chr, -1, chardev_input_fd(chr), false);
}
