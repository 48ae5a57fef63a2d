/* The hostile pretend driver of the device fuzzers (fuzz_guest.h says what
 * it is for). Unlike tests/unit/support/vq_harness.c it never aborts on
 * odd input: every value that reaches a device is whatever the fuzzer
 * chose, within the few clamps that keep it pointing at something a real
 * driver could point at. */
#include <errno.h>
#include <poll.h>
#include <sanitizer/common_interface_defs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "avp/virtio/transport.h"
#include "fuzz_guest.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "fuzz invariant broken at %s:%d: %s", file, line, what);
	/* Through the sanitizer's report fd: scripts/fuzz closes stderr
	 * (-close_fd_mask) to keep the devices' warnings out of its logs. */
	__sanitizer_report_error_summary(msg);
	fprintf(stderr, "%s\n", msg);
	__builtin_trap();
}

void fuzz_tmpdir(char *dir, size_t len, const char *name)
{
	const char *tmp = getenv("TMPDIR");

	/* Unix socket paths (108 bytes) must fit in it with room to spare.
	 * Without a TMPDIR, RAM: some targets write their files on every
	 * run (a screenshot, a WAV source), and a disk's file system makes
	 * that the slowest part of the run. */
	if (!tmp || !*tmp || strlen(tmp) > 40)
		tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
	if ((size_t)snprintf(dir, len, "%s/avp-fuzz-%s.XXXXXX", tmp, name) >= len || !mkdtemp(dir)) {
		perror("fuzz: mkdtemp");
		exit(1);
	}
}

/* ---- the input ---- */

bool fz_empty(const struct fz *z)
{
	return z->n == 0;
}

size_t fz_bytes(struct fz *z, void *dst, size_t max)
{
	size_t n = max < z->n ? max : z->n;

	if (n)
		memcpy(dst, z->p, n);
	z->p += n;
	z->n -= n;
	return n;
}

uint8_t *fz_file_head(struct fz *z, uint8_t mode, uint64_t extra, size_t *len,
		      uint64_t *file_size)
{
	size_t n = z->n;
	uint8_t *buf = malloc(n ? n : 1);

	if (!buf)
		return NULL;
	fz_bytes(z, buf, n);
	*len = n;
	*file_size = n + extra;
	if (mode & 2)
		*file_size = n > extra ? n - extra : 0;
	return buf;
}

/* Little-endian, zero-filled when the input ends mid-value. */
static uint64_t fz_le(struct fz *z, size_t len)
{
	uint8_t b[8] = { 0 };
	uint64_t v = 0;

	fz_bytes(z, b, len);
	for (size_t i = len; i-- > 0;)
		v = v << 8 | b[i];
	return v;
}

uint8_t fz_u8(struct fz *z)
{
	return (uint8_t)fz_le(z, 1);
}

uint16_t fz_u16(struct fz *z)
{
	return (uint16_t)fz_le(z, 2);
}

uint32_t fz_u32(struct fz *z)
{
	return (uint32_t)fz_le(z, 4);
}

uint64_t fz_u64(struct fz *z)
{
	return fz_le(z, 8);
}

/* ---- guest memory ---- */

int fg_init(struct fuzz_guest *g)
{
	memset(g, 0, sizeof(*g));
	g->ram = calloc(1, FG_RAM_SIZE);
	g->ram2 = calloc(1, FG_RAM2_SIZE);
	if (!g->ram || !g->ram2) {
		fg_fini(g);
		return -ENOMEM;
	}
	if (gm_add_region(&g->mem, FG_RAM_GPA, FG_RAM_SIZE, g->ram) ||
	    gm_add_region(&g->mem, FG_RAM2_GPA, FG_RAM2_SIZE, g->ram2)) {
		fg_fini(g);
		return -EINVAL;
	}
	return 0;
}

void fg_fini(struct fuzz_guest *g)
{
	free(g->ram);
	free(g->ram2);
	g->ram = g->ram2 = NULL;
}

uint64_t fg_gpa(uint32_t off)
{
	return FG_RAM_GPA + off;
}

void *fg_hva(struct fuzz_guest *g, uint64_t gpa, uint64_t len)
{
	return gm_ptr(&g->mem, gpa, len);
}

static uint64_t desc_gpa(uint16_t q)
{
	return fg_gpa(q * FG_QSLOT);
}

static uint64_t avail_gpa(uint16_t q)
{
	return fg_gpa(q * FG_QSLOT + 0x1000);
}

static uint64_t used_gpa(uint16_t q)
{
	return fg_gpa(q * FG_QSLOT + 0x1210);
}

static uint16_t *avail_ring(struct fuzz_guest *g, uint16_t q)
{
	return fg_hva(g, avail_gpa(q), 6 + 2u * g->qsize);
}

/* ---- transport hooks ---- */

static void fg_raise_irq(struct virtio_dev *dev, uint32_t isr_bits)
{
	struct fuzz_guest *g = dev->transport;

	(void)isr_bits;
	g->irqs++;
}

static int fg_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct fuzz_guest *g = dev->transport;
	unsigned int max = g->max_watch ? g->max_watch : FG_DEFAULT_WATCH;

	FUZZ_CHECK(fd >= 0);
	for (unsigned int i = 0; i < g->nwatch; i++)
		if (g->watch_fd[i] == fd) {
			g->watch_events[i] = events; /* as EPOLL_CTL_MOD */
			return 0;
		}
	/* More than the device can legitimately hold is a leak. */
	FUZZ_CHECK(g->nwatch < max && g->nwatch < FG_MAX_WATCH);
	g->watch_fd[g->nwatch] = fd;
	g->watch_events[g->nwatch++] = events;
	return 0;
}

static int fg_unwatch(struct virtio_dev *dev, int fd)
{
	struct fuzz_guest *g = dev->transport;

	for (unsigned int i = 0; i < g->nwatch; i++)
		if (g->watch_fd[i] == fd) {
			g->nwatch--;
			g->watch_fd[i] = g->watch_fd[g->nwatch];
			g->watch_events[i] = g->watch_events[g->nwatch];
			return 0;
		}
	return -ENOENT;
}

static const struct virtio_transport_ops fg_transport = {
	.name = "fuzz-guest",
	.interrupt = fg_raise_irq,
	.watch_fd = fg_watch,
	.unwatch_fd = fg_unwatch,
};

static bool device_live(const struct virtio_dev *dev)
{
	return (dev->status & VIRTIO_STATUS_DRIVER_OK) && !(dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* What the transport does between FEATURES_OK and DRIVER_OK, in one go. */
static void setup_queues(struct fuzz_guest *g)
{
	struct virtio_dev *dev = g->dev;

	for (uint16_t q = 0; q < g->nqueues; q++) {
		struct virtq *vq = &dev->vqs[q];

		/* A driver (re)initialising its rings starts from zeroed ones. */
		memset(g->ram + q * FG_QSLOT, 0, FG_QSLOT);
		virtq_reset(vq, &g->mem);
		vq->size = g->qsize;
		vq->desc_gpa = desc_gpa(q);
		vq->avail_gpa = avail_gpa(q);
		vq->used_gpa = used_gpa(q);
		FUZZ_CHECK(virtq_validate(vq) == 0);
		vq->event_idx = virtio_has_feature(dev, VIRTIO_F_EVENT_IDX);
		vq->indirect = virtio_has_feature(dev, VIRTIO_F_INDIRECT_DESC);
		vq->ready = true;
		g->avail_idx[q] = g->next_desc[q] = g->used_seen[q] = 0;
	}
}

static void activate(struct fuzz_guest *g)
{
	struct virtio_dev *dev = g->dev;

	pthread_mutex_lock(&dev->lock);
	setup_queues(g);
	dev->status |= VIRTIO_STATUS_DRIVER_OK;
	if (dev->ops->activate && dev->ops->activate(dev) < 0)
		virtio_dev_needs_reset(dev, "device could not start its backend");
	pthread_mutex_unlock(&dev->lock);
}

int fg_attach(struct fuzz_guest *g, struct virtio_dev *dev, uint64_t wanted, uint16_t qsize)
{
	uint64_t offered = (dev->ops->features ? dev->ops->features(dev) : 0) |
			   (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC);

	if (dev->ops->num_queues > FG_MAX_QUEUES || qsize == 0 || qsize > VIRTQ_MAX_SIZE)
		return -EINVAL;
	g->dev = dev;
	g->qsize = qsize;
	g->nqueues = dev->ops->num_queues;
	g->data_off = FG_DATA_OFF(g->nqueues);
	dev->mem = &g->mem;
	dev->transport = g;
	dev->tops = &fg_transport;
	dev->driver_features = (offered & wanted) | (1ull << VIRTIO_F_VERSION_1);
	dev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	activate(g);
	return 0;
}

void fg_reset(struct fuzz_guest *g)
{
	struct virtio_dev *dev = g->dev;

	pthread_mutex_lock(&dev->lock);
	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&dev->vqs[q], &g->mem);
	dev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	pthread_mutex_unlock(&dev->lock);
}

/* ---- operations ---- */

/* A descriptor as the input spells it. mode bit 0: raw 64-bit address;
 * bit 1: in the small second region (and a little past it); otherwise an
 * offset into main RAM. Bit 2: raw 32-bit length, else 16-bit. */
static void read_desc(struct fz *z, struct virtq_desc *d)
{
	uint8_t mode = fz_u8(z);

	if (mode & 1)
		d->addr = fz_u64(z);
	else if (mode & 2)
		d->addr = FG_RAM2_GPA + fz_u16(z) % (FG_RAM2_SIZE + 64);
	else
		d->addr = fg_gpa(fz_u16(z) % FG_RAM_SIZE);
	d->len = mode & 4 ? fz_u32(z) : fz_u16(z);
	d->flags = fz_u8(z);
	d->next = fz_u8(z);
}

static void publish(struct fuzz_guest *g, uint16_t q, uint16_t head)
{
	uint16_t *avail = avail_ring(g, q);

	avail[2 + g->avail_idx[q] % g->qsize] = head;
	g->avail_idx[q]++;
	__atomic_store_n(&avail[1], g->avail_idx[q], __ATOMIC_RELEASE);
}

uint32_t fg_alloc(struct fuzz_guest *g, uint32_t len)
{
	uint32_t off;

	if (len > FG_RAM_SIZE - g->data_off)
		len = FG_RAM_SIZE - g->data_off;
	if (g->data_next < g->data_off || len > FG_RAM_SIZE - g->data_next)
		g->data_next = g->data_off;
	off = g->data_next;
	g->data_next = (off + len + 15) & ~15u;
	memset(g->ram + off, 0, len);
	return off;
}

uint16_t fg_post(struct fuzz_guest *g, uint16_t q, const struct fg_seg *segs, unsigned int n,
		 bool indirect, uint32_t table_off)
{
	struct virtq_desc *table = fg_hva(g, desc_gpa(q), 16ull * g->qsize);
	uint16_t head = g->next_desc[q] % g->qsize;

	if (n > FG_MAX_SEGS)
		n = FG_MAX_SEGS;
	if (indirect) {
		if (table_off > FG_RAM_SIZE - 16 * FG_MAX_SEGS)
			table_off = FG_RAM_SIZE - 16 * FG_MAX_SEGS;
		for (unsigned int i = 0; i < n; i++) {
			struct virtq_desc d = {
				.addr = segs[i].gpa,
				.len = segs[i].len,
				.flags = (uint16_t)((segs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
						    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
				.next = (uint16_t)(i + 1),
			};

			memcpy(g->ram + table_off + 16 * i, &d, sizeof(d));
		}
		table[head] = (struct virtq_desc){
			.addr = fg_gpa(table_off), .len = 16 * n, .flags = VIRTQ_DESC_F_INDIRECT,
		};
		g->next_desc[q]++;
	} else {
		/* A queue smaller than the chain takes what fits. */
		if (n > g->qsize)
			n = g->qsize;
		for (unsigned int i = 0; i < n; i++) {
			uint16_t slot = (uint16_t)((head + i) % g->qsize);

			table[slot] = (struct virtq_desc){
				.addr = segs[i].gpa,
				.len = segs[i].len,
				.flags = (uint16_t)((segs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
						    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
				.next = (uint16_t)((slot + 1) % g->qsize),
			};
		}
		g->next_desc[q] = (uint16_t)(g->next_desc[q] + n);
	}
	publish(g, q, head);
	return head;
}

/* Well-formed on purpose: the raw DESC op covers the broken chains; this
 * one reaches the device logic behind the ring. */
static void op_chain(struct fuzz_guest *g, struct fz *z, uint16_t q)
{
	uint8_t b = fz_u8(z);
	unsigned int n = 1 + (b & 7);
	unsigned int nread = (b >> 3) & 7;
	struct fg_seg segs[FG_MAX_SEGS];

	for (unsigned int i = 0; i < n; i++) {
		uint32_t off = fz_u16(z) % FG_RAM_SIZE;
		uint32_t len = fz_u16(z);

		if (len > FG_RAM_SIZE - off)
			len = FG_RAM_SIZE - off;
		segs[i] = (struct fg_seg){ .gpa = fg_gpa(off), .len = len, .writable = i >= nread };
	}
	fg_post(g, q, segs, n, b & 0x80, b & 0x80 ? fz_u16(z) : 0);
}

void fg_kick(struct fuzz_guest *g, uint16_t q)
{
	struct virtio_dev *dev = g->dev;

	pthread_mutex_lock(&dev->lock);
	if (device_live(dev) && dev->vqs[q].ready && dev->ops->queue_notify)
		dev->ops->queue_notify(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

static void poll_fds(struct fuzz_guest *g)
{
	struct virtio_dev *dev = g->dev;

	/* A few rounds: serving one fd may make another ready (the resched
	 * eventfd), but a run must stay short. */
	for (int round = 0; round < 4; round++) {
		struct pollfd pfd[FG_MAX_WATCH];
		unsigned int n = g->nwatch;
		bool any = false;

		for (unsigned int i = 0; i < n; i++)
			pfd[i] = (struct pollfd){
				.fd = g->watch_fd[i],
				.events = (short)(((g->watch_events[i] & EPOLLIN) ? POLLIN : 0) |
						  ((g->watch_events[i] & EPOLLOUT) ? POLLOUT : 0)),
			};
		if (n == 0 || poll(pfd, n, 0) <= 0)
			return;
		for (unsigned int i = 0; i < n; i++) {
			uint32_t ev = 0;

			if (!pfd[i].revents)
				continue;
			any = true;
			ev |= (pfd[i].revents & POLLIN) ? EPOLLIN : 0;
			ev |= (pfd[i].revents & POLLOUT) ? EPOLLOUT : 0;
			ev |= (pfd[i].revents & POLLERR) ? EPOLLERR : 0;
			ev |= (pfd[i].revents & POLLHUP) ? EPOLLHUP : 0;
			pthread_mutex_lock(&dev->lock);
			if (device_live(dev) && dev->ops->fd_ready)
				dev->ops->fd_ready(dev, pfd[i].fd, ev);
			else
				fg_unwatch(dev, pfd[i].fd);
			pthread_mutex_unlock(&dev->lock);
		}
		if (!any)
			return;
	}
}

void fg_config(struct fuzz_guest *g, uint32_t off, void *data, uint32_t len, bool is_write)
{
	struct virtio_dev *dev = g->dev;

	pthread_mutex_lock(&dev->lock);
	if (off > dev->config_len || len > dev->config_len - off) {
		if (!is_write)
			memset(data, 0, len);
	} else if (!is_write) {
		memcpy(data, dev->config + off, len);
	} else if (dev->ops->config_write) {
		dev->ops->config_write(dev, off, data, len);
	}
	pthread_mutex_unlock(&dev->lock);
}

void fg_step(struct fuzz_guest *g, struct fz *z, fg_device_op hook, void *opaque)
{
	uint8_t op = fz_u8(z) % FG_OP_COUNT;
	uint16_t q;
	struct virtq_desc d;

	switch (op) {
	case FG_OP_RAM: {
		uint32_t off = fz_u16(z) % FG_RAM_SIZE;
		size_t len = fz_u8(z);

		if (len > FG_RAM_SIZE - off)
			len = FG_RAM_SIZE - off;
		fz_bytes(z, g->ram + off, len);
		break;
	}
	case FG_OP_DESC: {
		struct virtq_desc *table;

		q = fz_u8(z) % g->nqueues;
		table = fg_hva(g, desc_gpa(q), 16ull * g->qsize);
		uint16_t slot = fz_u8(z) % g->qsize;

		read_desc(z, &d);
		table[slot] = d;
		break;
	}
	case FG_OP_DESC_AT: {
		uint32_t off = fz_u16(z) % (FG_RAM_SIZE - 16);

		read_desc(z, &d);
		memcpy(g->ram + off, &d, sizeof(d));
		break;
	}
	case FG_OP_PUBLISH:
		q = fz_u8(z) % g->nqueues;
		publish(g, q, fz_u16(z));
		break;
	case FG_OP_AVAIL_IDX:
		q = fz_u8(z) % g->nqueues;
		g->avail_idx[q] = fz_u16(z);
		__atomic_store_n(&avail_ring(g, q)[1], g->avail_idx[q], __ATOMIC_RELEASE);
		break;
	case FG_OP_SUPPRESS: {
		uint16_t *avail;

		q = fz_u8(z) % g->nqueues;
		avail = avail_ring(g, q);
		avail[0] = fz_u16(z);
		avail[2 + g->qsize] = fz_u16(z);
		break;
	}
	case FG_OP_KICK:
		fg_kick(g, fz_u8(z) % g->nqueues);
		break;
	case FG_OP_POLL:
		poll_fds(g);
		break;
	case FG_OP_CHAIN:
		q = fz_u8(z) % g->nqueues;
		op_chain(g, z, q);
		break;
	case FG_OP_RESET:
		fg_reset(g);
		activate(g);
		break;
	case FG_OP_DEVICE:
		if (hook)
			hook(g, z, opaque);
		break;
	case FG_OP_WAKE: {
		uint8_t i = fz_u8(z);

		if (!g->nwatch)
			break;
		i = (uint8_t)(i % g->nwatch);
		pthread_mutex_lock(&g->dev->lock);
		if (device_live(g->dev) && g->dev->ops->fd_ready)
			g->dev->ops->fd_ready(g->dev, g->watch_fd[i], g->watch_events[i]);
		pthread_mutex_unlock(&g->dev->lock);
		break;
	}
	case FG_OP_CONFIG: {
		/* Mostly inside the device's config and aligned, as a driver
		 * reads it; sometimes anywhere in the window (up to 0xf00). */
		uint16_t off = fz_u16(z);
		uint8_t how = fz_u8(z);
		uint32_t len = how & 0x40 ? 1u + (how & 7) : 1u << (how & 3);
		uint64_t v = fz_u64(z);

		off = how & 0x80 ? off % 0xf00 : (uint16_t)(off % (g->dev->config_len + 8));
		fg_config(g, off, &v, len, how & 0x20);
		break;
	}
	default:
		break;
	}
}

void fg_check(struct fuzz_guest *g)
{
	struct virtio_dev *dev = g->dev;

	if (!device_live(dev))
		return;
	for (uint16_t q = 0; q < g->nqueues; q++) {
		const struct virtq *vq = &dev->vqs[q];

		if (!vq->ready)
			continue;
		/* Chains taken but not yet returned: never more than the
		 * queue holds (and never negative, which would wrap). */
		FUZZ_CHECK((uint16_t)(vq->last_avail_idx - vq->used_idx) <= vq->size);
	}
}

void fg_run(struct fuzz_guest *g, struct virtio_dev *dev, struct fz *z,
	    const uint64_t *wanted_bits, unsigned int nwanted, fg_device_op hook, void *opaque)
{
	fg_run_extra(g, dev, z, wanted_bits, nwanted, 0, hook, opaque);
}

void fg_run_extra(struct fuzz_guest *g, struct virtio_dev *dev, struct fz *z,
		  const uint64_t *wanted_bits, unsigned int nwanted, uint64_t extra, fg_device_op hook,
		  void *opaque)
{
	uint8_t fbyte = fz_u8(z);
	uint64_t wanted = extra;
	uint16_t qsize = (uint16_t)(1u << (fz_u8(z) % 9));

	for (unsigned int i = 0; i < nwanted && i < 8; i++)
		if (fbyte & (1u << i))
			wanted |= 1ull << wanted_bits[i];
	if (fg_attach(g, dev, wanted, qsize))
		return;
	/* Bounded: an input is a few KiB, but keep each run short anyway. */
	for (unsigned int i = 0; i < 2048 && !fz_empty(z); i++) {
		fg_step(g, z, hook, opaque);
		fg_check(g);
	}
}
