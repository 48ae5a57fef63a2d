/* virtio-rng, the entropy device (VIRTIO 1.2, section 5.4): one request
 * queue; the device fills each chain's writable part with random bytes
 * from the host kernel (getrandom) and returns how many it wrote.
 *
 * A request is capped at VIRTIO_RNG_MAX_REQUEST bytes (5.4.6.1 lets the
 * device return fewer bytes than asked), so a driver posting huge buffers
 * cannot make us spend unbounded time on one; at most VIRTIO_RNG_BUDGET
 * requests are served per wakeup before we yield (dev_wait.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_rng.h"
#include "avp/log.h"

struct vrng {
	struct virtio_dev dev;
	struct dev_resched resched;
	bool err_logged;
	struct virtq_chain chain;
};

static struct vrng *vrng_of(struct virtio_dev *dev)
{
	return dev->priv;
}

static uint64_t vrng_features(struct virtio_dev *dev)
{
	(void)dev;
	return 0; /* 5.4.3: none defined */
}

/* Fills buf completely, or returns how much it could. */
static size_t fill_random(struct vrng *r, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		/* Flags 0: blocks only until the host's pool is first
		 * initialised, early in host boot, never after. */
		ssize_t n = getrandom(buf + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!r->err_logged)
				avp_warn("virtio-rng: getrandom: %s", strerror(errno));
			r->err_logged = true;
			break;
		}
		done += (size_t)n;
	}
	return done;
}

/* Random bytes into the chain's writable part, at most the cap. */
static uint32_t serve(struct vrng *r)
{
	const struct virtq_chain *c = &r->chain;
	size_t left = VIRTIO_RNG_MAX_REQUEST;
	size_t filled = 0;

	for (unsigned int i = c->n_out; i < c->n_out + c->n_in && left; i++) {
		size_t want = c->iov[i].iov_len < left ? c->iov[i].iov_len : left;
		size_t got = fill_random(r, c->iov[i].iov_base, want);

		filled += got;
		left -= got;
		if (got < want)
			break;
	}
	return (uint32_t)filled;
}

static void rng_work(struct vrng *r)
{
	struct virtio_dev *dev = &r->dev;

	for (unsigned int i = 0; i < VIRTIO_RNG_BUDGET; i++) {
		int ret = virtq_pop(&dev->vqs[0], &r->chain);

		if (ret == 0)
			return;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "request ring is broken");
			dev_watch_set(dev, &r->resched.watch, false);
			return;
		}
		/* A malformed chain, or one with no writable part, gets 0. */
		if (r->chain.head != UINT16_MAX)
			virtio_dev_complete(dev, 0, r->chain.head, ret == 1 ? serve(r) : 0);
	}
	dev_resched_request(&r->resched);
}

static void vrng_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	if (q == 0)
		rng_work(vrng_of(dev));
}

static void vrng_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vrng *r = vrng_of(dev);

	(void)events;
	if (dev_resched_take(&r->resched, fd))
		rng_work(r);
}

static int vrng_activate(struct virtio_dev *dev)
{
	return dev_watch_set(dev, &vrng_of(dev)->resched.watch, true);
}

static void vrng_reset(struct virtio_dev *dev)
{
	struct vrng *r = vrng_of(dev);

	dev_watch_set(dev, &r->resched.watch, false);
	dev_resched_take(&r->resched, r->resched.watch.fd);
}

static void vrng_destroy(struct virtio_dev *dev)
{
	struct vrng *r = vrng_of(dev);

	virtio_dev_fini(dev);
	dev_resched_fini(&r->resched);
	free(r);
}

static const struct virtio_dev_ops vrng_ops = {
	.type = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.features = vrng_features,
	.activate = vrng_activate,
	.queue_notify = vrng_queue_notify,
	.fd_ready = vrng_fd_ready,
	.reset = vrng_reset,
	.destroy = vrng_destroy,
};

int virtio_rng_create(struct virtio_dev **out)
{
	struct vrng *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	ret = dev_resched_init(&r->resched);
	if (ret) {
		avp_err("virtio-rng: eventfd: %s", strerror(-ret));
		free(r);
		return ret;
	}
	/* No configuration space (5.4.4). */
	virtio_dev_init(&r->dev, &vrng_ops, r, NULL, 0);
	*out = &r->dev;
	return 0;
}
