/* libFuzzer target: the virtio-mmio transport (src/virtio/mmio.c) driven by
 * a random sequence of register reads and writes, as a hostile guest's
 * vCPU would issue them, against an echo device, without KVM (the same
 * set-up as tests/unit/test_virtio_mmio.c: struct vm with no fds, so
 * notifications and interrupts take the fallback paths).
 *
 * The transport runs queue work on its own device thread. To keep runs
 * reproducible, a QueueNotify that the thread will act on is followed by a
 * wait until the echo device has served it, so the guest never changes
 * RAM while the device reads it (other targets cover that; here the point
 * is the register state machine and the rings it validates).
 *
 * Input: operations until the input ends:
 *   0 write  u8 reg (x4), u32 value        a 32-bit register write
 *   1 read   u8 reg (x4)                    a 32-bit register read
 *   2 raw    u16 off, u8 len, u8 dir, u64   any width, any offset (config
 *                                           space, unaligned, odd sizes)
 *   3 ram    u16 off, u8 len, bytes         the driver writes RAM
 *   4 init   u8 features, u8 qsize          the whole Linux init sequence
 *   5 chain  u16 off, u8 len                an echo request on queue 0 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "avp/log.h"
#include "avp/virtio/mmio.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/vm.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define RAM_GPA 0x100000ull
#define RAM_SIZE (64u * 1024)
#define DESC_OFF 0x0000u
#define AVAIL_OFF 0x1000u
#define USED_OFF 0x2000u
#define BUF_OFF 0x4000u

enum {
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
};

struct echo {
	struct virtio_dev dev;
	struct virtq_chain chain;
	uint8_t config[12];
	/* queue_notify calls; the fuzz thread sleeps on served_cv until it
	 * changes (spinning on it starved the device thread of a CPU on a
	 * busy machine: a tenth of the runs per second). */
	unsigned int served;
	pthread_mutex_t served_lock;
	pthread_cond_t served_cv;
	uint8_t buf[4096];
};

struct ctx {
	struct vm vm;
	struct avp_config cfg;
	uint8_t *ram;
	struct echo echo;
	uint64_t base;
	uint16_t avail_idx;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	return 0;
}

static uint64_t echo_features(struct virtio_dev *dev)
{
	(void)dev;
	return 1ull << 5;
}

static void echo_notify(struct virtio_dev *dev, uint16_t q)
{
	struct echo *e = dev->priv;
	int ret;

	/* Bounded like the real devices' budgets. */
	for (int i = 0; i < 64 && (ret = virtq_pop(&dev->vqs[q], &e->chain)) != 0; i++) {
		size_t n;

		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "fuzz");
			break;
		}
		if (ret < 0) {
			if (e->chain.head != UINT16_MAX)
				virtio_dev_complete(dev, q, e->chain.head, 0);
			continue;
		}
		n = virtq_chain_read(&e->chain, 0, e->buf, sizeof(e->buf));
		n = virtq_chain_write(&e->chain, 0, e->buf, n);
		virtio_dev_complete(dev, q, e->chain.head, (uint32_t)n);
	}
	pthread_mutex_lock(&e->served_lock);
	e->served++;
	pthread_cond_signal(&e->served_cv);
	pthread_mutex_unlock(&e->served_lock);
}

static void echo_destroy(struct virtio_dev *dev)
{
	(void)dev;
}

static const struct virtio_dev_ops echo_ops = {
	.type = "echo",
	.device_id = 42,
	.num_queues = 2,
	.features = echo_features,
	.queue_notify = echo_notify,
	.destroy = echo_destroy,
};

static void mmio_rw(struct ctx *c, uint64_t off, void *data, uint32_t len, bool is_write)
{
	/* Every offset inside the window must be claimed by the transport. */
	FUZZ_CHECK(io_bus_dispatch(&c->vm.mmio, c->base + off, data, len, is_write));
}

static uint32_t rd(struct ctx *c, uint64_t off)
{
	uint32_t v = 0;

	mmio_rw(c, off, &v, 4, false);
	return v;
}

/* A QueueNotify for a queue the device thread will serve: wait until it
 * has. Bounded by a deadline generous enough for a loaded machine, so a
 * transport that drops a kick shows as a crash, not a hang. */
static void notify(struct ctx *c, uint32_t q)
{
	struct virtio_dev *dev = &c->echo.dev;
	struct echo *e = &c->echo;
	unsigned int before;
	struct timespec deadline;
	bool served;
	int ret = 0;

	pthread_mutex_lock(&dev->lock);
	served = q < echo_ops.num_queues && (dev->status & VIRTIO_STATUS_DRIVER_OK) &&
		 !(dev->status & VIRTIO_STATUS_NEEDS_RESET) && dev->vqs[q].ready;
	pthread_mutex_unlock(&dev->lock);
	pthread_mutex_lock(&e->served_lock);
	before = e->served;
	pthread_mutex_unlock(&e->served_lock);
	mmio_rw(c, REG_QUEUE_NOTIFY, &q, 4, true);
	if (!served)
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&e->served_lock);
	while (e->served == before && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&e->served_cv, &e->served_lock, &deadline);
	/* A kick the thread was due to serve but did not in 5 s. */
	FUZZ_CHECK(e->served != before);
	pthread_mutex_unlock(&e->served_lock);
}

static void wr(struct ctx *c, uint64_t off, uint32_t v)
{
	if (off == REG_QUEUE_NOTIFY) {
		notify(c, v);
		return;
	}
	mmio_rw(c, off, &v, 4, true);
}

/* Linux's virtio_mmio probe, with fuzzer-chosen features and queue size. */
static void driver_init(struct ctx *c, struct fz *z)
{
	uint8_t fsel = fz_u8(z);
	uint32_t qsize = 1u << (fz_u8(z) % 10); /* up to 512: one above the max */
	uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (1ull << 5);

	if (fsel & 1)
		features |= 1ull << VIRTIO_F_EVENT_IDX;
	if (fsel & 2)
		features |= 1ull << VIRTIO_F_INDIRECT_DESC;
	if (fsel & 4)
		features &= ~(1ull << VIRTIO_F_VERSION_1);
	if (fsel & 8)
		features |= 1ull << 40; /* never offered */
	wr(c, REG_STATUS, 0);
	wr(c, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(c, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(c, REG_DRIVER_FEATURES_SEL, 0);
	wr(c, REG_DRIVER_FEATURES, (uint32_t)features);
	wr(c, REG_DRIVER_FEATURES_SEL, 1);
	wr(c, REG_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(c, REG_STATUS, 3 | VIRTIO_STATUS_FEATURES_OK);
	memset(c->ram, 0, BUF_OFF);
	c->avail_idx = 0;
	wr(c, REG_QUEUE_SEL, 0);
	wr(c, REG_QUEUE_NUM, qsize);
	wr(c, REG_QUEUE_DESC_LOW, (uint32_t)(RAM_GPA + DESC_OFF));
	wr(c, REG_QUEUE_DESC_HIGH, 0);
	wr(c, REG_QUEUE_DRIVER_LOW, (uint32_t)(RAM_GPA + AVAIL_OFF));
	wr(c, REG_QUEUE_DRIVER_HIGH, 0);
	wr(c, REG_QUEUE_DEVICE_LOW, (uint32_t)(RAM_GPA + USED_OFF));
	wr(c, REG_QUEUE_DEVICE_HIGH, 0);
	wr(c, REG_QUEUE_READY, 1);
	wr(c, REG_STATUS, rd(c, REG_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

/* One echo request on queue 0 (as laid out by driver_init), then a kick. */
static void post_echo(struct ctx *c, struct fz *z)
{
	struct virtq_desc *d = (struct virtq_desc *)(c->ram + DESC_OFF);
	uint16_t *avail = (uint16_t *)(c->ram + AVAIL_OFF);
	uint32_t qsize = c->echo.dev.vqs[0].size ? c->echo.dev.vqs[0].size : 1;
	uint32_t off = BUF_OFF + fz_u16(z) % (RAM_SIZE - BUF_OFF - 512);
	uint32_t len = fz_u8(z);

	d[0] = (struct virtq_desc){ RAM_GPA + off, len, VIRTQ_DESC_F_NEXT, 1 };
	d[1] = (struct virtq_desc){ RAM_GPA + off + 256, 256, VIRTQ_DESC_F_WRITE, 0 };
	avail[2 + c->avail_idx % qsize] = 0;
	c->avail_idx++;
	__atomic_store_n(&avail[1], c->avail_idx, __ATOMIC_RELEASE);
	wr(c, REG_QUEUE_NOTIFY, 0);
}

static void run(struct ctx *c, struct fz *z)
{
	for (unsigned int i = 0; i < 1024 && !fz_empty(z); i++) {
		switch (fz_u8(z) % 6) {
		case 0: {
			uint64_t reg = 4u * (fz_u8(z) % 64u);

			wr(c, reg, fz_u32(z));
			break;
		}
		case 1:
			rd(c, 4u * (fz_u8(z) % 64u));
			break;
		case 2: {
			uint64_t off = fz_u16(z) % VIRTIO_MMIO_SIZE;
			static const uint32_t lens[] = { 1, 2, 4, 8 };
			uint32_t len = lens[fz_u8(z) % 4];
			bool is_write = fz_u8(z) & 1;
			uint64_t v = fz_u64(z);

			if (off + len > VIRTIO_MMIO_SIZE)
				off = VIRTIO_MMIO_SIZE - len;
			/* QueueNotify goes through notify() to stay in step
			 * with the device thread. */
			if (is_write && off <= REG_QUEUE_NOTIFY + 3 && off + len > REG_QUEUE_NOTIFY)
				break;
			mmio_rw(c, off, &v, len, is_write);
			break;
		}
		case 3: {
			uint32_t off = fz_u16(z) % RAM_SIZE;
			size_t len = fz_u8(z);

			if (len > RAM_SIZE - off)
				len = RAM_SIZE - off;
			fz_bytes(z, c->ram + off, len);
			break;
		}
		case 4:
			driver_init(c, z);
			break;
		case 5:
			post_echo(c, z);
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct fz z = { data, size };
	pthread_condattr_t ca;

	if (!c)
		return 0;
	pthread_mutex_init(&c->echo.served_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->echo.served_cv, &ca);
	pthread_condattr_destroy(&ca);
	avp_config_init(&c->cfg);
	c->vm.cfg = &c->cfg;
	c->vm.vm_fd = c->vm.kvm_fd = c->vm.exit_efd = -1;
	c->ram = calloc(1, RAM_SIZE);
	if (!c->ram || gm_add_region(&c->vm.mem, RAM_GPA, RAM_SIZE, c->ram))
		goto out;
	virtio_dev_init(&c->echo.dev, &echo_ops, &c->echo, c->echo.config, sizeof(c->echo.config));
	memcpy(c->echo.config, "ABCDEFGHIJKL", 12);
	if (virtio_mmio_attach(&c->vm, &c->echo.dev))
		goto out;
	c->base = c->vm.mmio_devs[0].base;
	run(c, &z);
	/* Joins the device thread: nothing runs after this. */
	virtio_mmio_detach(&c->echo.dev);
out:
	pthread_mutex_destroy(&c->echo.dev.lock);
	pthread_cond_destroy(&c->echo.served_cv);
	pthread_mutex_destroy(&c->echo.served_lock);
	free(c->ram);
	free(c);
	return 0;
}
