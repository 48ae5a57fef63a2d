/* virtio-blk against a pretend driver and a temporary raw image: what a
 * well-behaved driver sees, and that a hostile one gets errors (or a
 * needs-reset), never a crash or a write outside the image. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/devices/virtio_blk.h"
#include "avp/log.h"
#include "support/vq_harness.h"

/* Constants from VIRTIO 1.2 section 5.2, spelled out here independently of
 * the device's own definitions. */
#define F_SIZE_MAX 1
#define F_SEG_MAX 2
#define F_RO 5
#define F_BLK_SIZE 6
#define F_FLUSH 9
#define F_MQ 12
#define F_DISCARD 13
#define F_WRITE_ZEROES 14

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_GET_LIFETIME 10
#define T_DISCARD 11
#define T_WRITE_ZEROES 13

#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2
#define S_UNTOUCHED 0xff /* what we put in the status byte beforehand */

#define SECTORS 64
#define IMG_SIZE (SECTORS * 512)
#define QSIZE 16
#define RAM_SIZE (4u << 20)

struct fixture {
	char path[256];
	char path2[256];
	struct avp_disk_cfg cfg;
	struct vq_harness h;
	bool harness_up;
	struct virtio_dev *dev;
	/* Every test runs twice: with the synchronous backend, where a kick
	 * completes everything in order, and with io_uring, where requests
	 * complete later, in any order, when the ring's eventfd (the fd the
	 * device watched) is ready. */
	enum disk_aio aio;
	uint16_t queues;
	int watched_fd;
};

static struct fixture *current;

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	(void)dev;
	(void)events;
	current->watched_fd = fd;
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	(void)dev;
	if (fd == current->watched_fd)
		current->watched_fd = -1;
	return 0;
}

/* What the worker does when the watched fd is readable; false when
 * nothing came within 5 s (or nothing is watched: the sync backend). */
static bool wait_completions(struct fixture *f)
{
	struct pollfd p = { .fd = f->watched_fd, .events = POLLIN };

	if (f->watched_fd < 0 || poll(&p, 1, 5000) != 1)
		return false;
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, f->watched_fd, EPOLLIN);
	pthread_mutex_unlock(&f->dev->lock);
	return true;
}

/* The next completion of queue q, waiting for the disk when needed. */
static bool next_used(struct fixture *f, uint16_t q, uint32_t *id, uint32_t *len)
{
	while (!vqh_used(&f->h, f->dev, q, id, len))
		if (!wait_completions(f))
			return false;
	return true;
}

struct req {
	uint32_t type;
	uint64_t sector;
	const void *out; /* device-readable data after the header */
	size_t out_len;
	size_t in_len; /* device-writable data before the status byte */
	bool indirect;
};

struct resp {
	uint8_t status;
	uint32_t used;
	uint8_t *in; /* the writable data, in guest RAM */
};

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)((off * 31 + (off >> 9) * 7) % 255 + 1); /* never 0 */
}

static void make_image(char *path, size_t n)
{
	const char *tmp = getenv("TMPDIR");
	uint8_t buf[IMG_SIZE];
	int fd;

	snprintf(path, n, "%s/avp-blk-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(i);
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
}

static void file_read(struct fixture *f, uint64_t off, void *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

/* Whole-image snapshot, to show a refused request changed nothing. */
static uint8_t *snapshot(struct fixture *f)
{
	uint8_t *p = malloc(IMG_SIZE);

	assert_non_null(p);
	file_read(f, 0, p, IMG_SIZE);
	return p;
}

static void assert_unchanged(struct fixture *f, uint8_t *before)
{
	uint8_t *now = snapshot(f);

	assert_memory_equal(before, now, IMG_SIZE);
	assert_int_equal(file_size(f->path), IMG_SIZE);
	free(now);
	free(before);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void stop_device(struct fixture *f)
{
	if (f->dev) {
		f->dev->ops->destroy(f->dev);
		f->dev = NULL;
	}
	if (f->harness_up) {
		vqh_free(&f->h);
		f->harness_up = false;
	}
}

static void start_device(struct fixture *f, bool read_only, bool event_idx, bool indirect)
{
	stop_device(f);
	f->cfg.path = f->path;
	f->cfg.read_only = read_only;
	f->cfg.aio = f->aio;
	f->cfg.queues = f->queues;
	f->watched_fd = -1;
	current = f;
	assert_int_equal(virtio_blk_create(&f->dev, &f->cfg), 0);
	vqh_init(&f->h, RAM_SIZE);
	f->harness_up = true;
	vqh_attach(&f->h, f->dev, event_idx, indirect);
	vqh_set_watch(&f->h, f->dev, spy_watch, spy_unwatch);
	for (uint16_t q = 0; q < f->dev->ops->num_queues; q++)
		vqh_setup_queue(&f->h, f->dev, q, QSIZE);
	assert_int_equal(vqh_activate(&f->h, f->dev), 0);
}

static int setup_aio(void **state, enum disk_aio aio)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.aio = aio;
	make_image(f.path, sizeof(f.path));
	avp_log_set_level(AVP_LOG_WARN);
	start_device(&f, false, false, true);
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	return setup_aio(state, DISK_AIO_SYNC);
}

static int setup_uring(void **state)
{
	return setup_aio(state, DISK_AIO_IO_URING);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	stop_device(f);
	unlink(f->path);
	if (f->path2[0])
		unlink(f->path2);
	return 0;
}

static uint64_t alloc_fill(struct fixture *f, const void *src, size_t len, int fill)
{
	uint64_t gpa = vqh_alloc(&f->h, len);

	if (src)
		memcpy(vqh_hva(&f->h, gpa), src, len);
	else
		memset(vqh_hva(&f->h, gpa), fill, len);
	return gpa;
}

/* The one completion the last kick produced; checks it is for `head`. */
static uint32_t expect_used(struct fixture *f, uint16_t head)
{
	uint32_t id, len;

	assert_true(next_used(f, 0, &id, &len));
	assert_int_equal(id, head);
	assert_false(vqh_used(&f->h, f->dev, 0, &id, &len));
	return len;
}

/* Posts [header R][data R][data W][status W] the way Linux lays out a
 * request, kicks, and returns the status byte. */
static uint8_t submit(struct fixture *f, const struct req *r, struct resp *out)
{
	struct vqh_buf bufs[4];
	unsigned int n = 0;
	uint8_t hdr[16] = { 0 };
	uint64_t in_gpa = 0, st_gpa;
	uint16_t head;
	struct resp dummy;

	if (!out)
		out = &dummy;
	put_le32(hdr, r->type);
	put_le64(hdr + 8, r->sector);
	bufs[n++] = (struct vqh_buf){ alloc_fill(f, hdr, sizeof(hdr), 0), sizeof(hdr), false };
	if (r->out_len)
		bufs[n++] = (struct vqh_buf){ alloc_fill(f, r->out, r->out_len, 0),
					      (uint32_t)r->out_len, false };
	if (r->in_len) {
		in_gpa = alloc_fill(f, NULL, r->in_len, 0xee);
		bufs[n++] = (struct vqh_buf){ in_gpa, (uint32_t)r->in_len, true };
	}
	st_gpa = alloc_fill(f, NULL, 1, S_UNTOUCHED);
	bufs[n++] = (struct vqh_buf){ st_gpa, 1, true };
	head = r->indirect ? vqh_post_indirect(&f->h, f->dev, 0, bufs, n)
			   : vqh_post(&f->h, f->dev, 0, bufs, n);
	vqh_kick(&f->h, f->dev, 0);
	out->used = expect_used(f, head);
	out->in = in_gpa ? vqh_hva(&f->h, in_gpa) : NULL;
	out->status = *(uint8_t *)vqh_hva(&f->h, st_gpa);
	return out->status;
}

static uint8_t read_sectors(struct fixture *f, uint64_t sector, size_t len, struct resp *out)
{
	return submit(f, &(struct req){ .type = T_IN, .sector = sector, .in_len = len }, out);
}

static uint8_t write_sectors(struct fixture *f, uint64_t sector, const void *data, size_t len)
{
	struct resp rsp;
	uint8_t st = submit(
		f, &(struct req){ .type = T_OUT, .sector = sector, .out = data, .out_len = len }, &rsp);

	assert_int_equal(rsp.used, 1); /* only the status byte */
	return st;
}

/* A request that must succeed after a hostile one: the device still works. */
static void assert_still_works(struct fixture *f)
{
	struct resp rsp;

	assert_int_equal(read_sectors(f, 1, 512, &rsp), S_OK);
	for (size_t i = 0; i < 512; i++)
		assert_int_equal(rsp.in[i], pattern(512 + i));
}

static void test_features_and_config(void **state)
{
	struct fixture *f = *state;
	uint64_t feat = f->dev->ops->features(f->dev);
	const uint8_t *cfg = f->dev->config;

	assert_int_equal(f->dev->ops->device_id, 2);
	assert_int_equal(f->dev->ops->num_queues, 1);
	assert_string_equal(f->dev->ops->type, "virtio-blk");
	assert_true(feat & (1ull << F_SEG_MAX));
	assert_true(feat & (1ull << F_BLK_SIZE));
	assert_true(feat & (1ull << F_FLUSH));
	assert_true(feat & (1ull << F_DISCARD));
	assert_true(feat & (1ull << F_WRITE_ZEROES));
	assert_false(feat & (1ull << F_RO));
	assert_false(feat & (1ull << F_SIZE_MAX));

	/* 5.2.4 offsets, little-endian. */
	assert_true(f->dev->config_len >= 60);
	assert_int_equal(get_le(cfg + 0, 8), SECTORS);
	assert_int_equal(get_le(cfg + 12, 4), f->dev->queue_max - 2);
	assert_int_equal(get_le(cfg + 20, 4), 512);
	assert_int_equal(cfg[33], 0); /* unused0 */
	assert_true(get_le(cfg + 36, 4) > 0);	 /* max_discard_sectors */
	assert_true(get_le(cfg + 40, 4) >= 1);	 /* max_discard_seg */
	assert_true(get_le(cfg + 44, 4) >= 1);	 /* discard_sector_alignment */
	assert_true(get_le(cfg + 48, 4) > 0);	 /* max_write_zeroes_sectors */
	assert_true(get_le(cfg + 52, 4) >= 1);	 /* max_write_zeroes_seg */
	assert_int_equal(cfg[56], 1);		 /* write_zeroes_may_unmap */
	assert_int_equal(get_le(cfg + 57, 3), 0); /* unused1 */
}

static void test_read(void **state)
{
	struct fixture *f = *state;
	struct resp rsp;

	assert_int_equal(read_sectors(f, 3, 1024, &rsp), S_OK);
	assert_int_equal(rsp.used, 1024 + 1);
	for (size_t i = 0; i < 1024; i++)
		assert_int_equal(rsp.in[i], pattern(3 * 512 + i));
	/* The last sector of the disk. */
	assert_int_equal(read_sectors(f, SECTORS - 1, 512, &rsp), S_OK);
	for (size_t i = 0; i < 512; i++)
		assert_int_equal(rsp.in[i], pattern((SECTORS - 1) * 512 + i));
}

static void test_write_then_read_back(void **state)
{
	struct fixture *f = *state;
	uint8_t data[1536], file[1536 + 1024];
	struct resp rsp;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(write_sectors(f, 10, data, sizeof(data)), S_OK);
	file_read(f, 9 * 512, file, sizeof(file));
	/* Written sectors hold the data, neighbours are untouched. */
	assert_memory_equal(file + 512, data, sizeof(data));
	for (size_t i = 0; i < 512; i++) {
		assert_int_equal(file[i], pattern(9 * 512 + i));
		assert_int_equal(file[512 + sizeof(data) + i], pattern(13 * 512 + i));
	}
	assert_int_equal(read_sectors(f, 10, sizeof(data), &rsp), S_OK);
	assert_memory_equal(rsp.in, data, sizeof(data));
	assert_int_equal(file_size(f->path), IMG_SIZE);
}

/* The device recycles its request records: a read after a write, a write
 * after a read, many more times than it keeps spare, each answered with
 * its own used length (a write's is the status byte alone). */
static void test_requests_recycled(void **state)
{
	struct fixture *f = *state;
	uint8_t data[512];
	struct resp rsp;

	for (unsigned int i = 0; i < 100; i++) {
		uint64_t sector = 16 + i % 32;

		memset(data, (int)i, sizeof(data));
		assert_int_equal(read_sectors(f, sector, 1024, &rsp), S_OK);
		assert_int_equal(rsp.used, 1024 + 1);
		assert_int_equal(write_sectors(f, sector, data, sizeof(data)), S_OK);
		assert_int_equal(read_sectors(f, sector, 512, &rsp), S_OK);
		assert_int_equal(rsp.used, 512 + 1);
		assert_memory_equal(rsp.in, data, sizeof(data));
	}
}

/* Framing is the driver's choice (2.6.4): header and data in one buffer,
 * data split over several, status sharing a buffer with read data. */
static void test_any_framing(void **state)
{
	struct fixture *f = *state;
	uint8_t one[16 + 1024];
	uint8_t file[1024];
	uint64_t gpa, st;
	uint16_t head;

	memset(one, 0, 16);
	put_le32(one, T_OUT);
	put_le64(one + 8, 20);
	for (size_t i = 0; i < 1024; i++)
		one[16 + i] = (uint8_t)(i * 3);
	gpa = alloc_fill(f, one, sizeof(one), 0);
	st = alloc_fill(f, NULL, 1, S_UNTOUCHED);
	head = vqh_post(&f->h, f->dev, 0,
			(struct vqh_buf[]){ { gpa, 16 + 100, false },
					    { gpa + 116, 900, false },
					    { gpa + 1016, 24, false },
					    { st, 1, true } },
			4);
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(expect_used(f, head), 1);
	assert_int_equal(*(uint8_t *)vqh_hva(&f->h, st), S_OK);
	file_read(f, 20 * 512, file, sizeof(file));
	assert_memory_equal(file, one + 16, sizeof(file));

	/* Read: 512 bytes of data and the status byte in one buffer. */
	memset(one, 0, 16);
	put_le32(one, T_IN);
	put_le64(one + 8, 20);
	gpa = alloc_fill(f, one, 16, 0);
	st = alloc_fill(f, NULL, 513, 0xee);
	head = vqh_post(&f->h, f->dev, 0,
			(struct vqh_buf[]){ { gpa, 16, false }, { st, 300, true }, { st + 300, 213, true } },
			3);
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(expect_used(f, head), 513);
	assert_memory_equal(vqh_hva(&f->h, st), file, 512);
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, st))[512], S_OK);
}

static void test_flush(void **state)
{
	struct fixture *f = *state;
	uint8_t data[512];
	struct resp rsp;

	memset(data, 0x77, sizeof(data));
	assert_int_equal(write_sectors(f, 0, data, sizeof(data)), S_OK);
	assert_int_equal(submit(f, &(struct req){ .type = T_FLUSH }, &rsp), S_OK);
	assert_int_equal(rsp.used, 1);

	/* A driver that did not take FLUSH still gets its writes (made
	 * durable on completion, 5.2.6.2). */
	f->dev->driver_features &= ~(1ull << F_FLUSH);
	assert_int_equal(write_sectors(f, 1, data, sizeof(data)), S_OK);
	assert_int_equal(read_sectors(f, 1, 512, &rsp), S_OK);
	assert_memory_equal(rsp.in, data, sizeof(data));
}

static void test_read_only(void **state)
{
	struct fixture *f = *state;
	uint64_t feat;
	uint8_t data[512], seg[16] = { 0 };
	uint8_t *before;

	start_device(f, true, false, true);
	feat = f->dev->ops->features(f->dev);
	assert_true(feat & (1ull << F_RO));
	assert_false(feat & (1ull << F_DISCARD));
	assert_false(feat & (1ull << F_WRITE_ZEROES));

	before = snapshot(f);
	memset(data, 0, sizeof(data));
	assert_int_equal(write_sectors(f, 0, data, sizeof(data)), S_IOERR);
	put_le64(seg, 0);
	put_le32(seg + 8, 1);
	assert_int_equal(submit(f, &(struct req){ .type = T_WRITE_ZEROES, .out = seg, .out_len = 16 },
				NULL),
			 S_IOERR);
	assert_int_equal(submit(f, &(struct req){ .type = T_DISCARD, .out = seg, .out_len = 16 }, NULL),
			 S_IOERR);
	assert_unchanged(f, before);
	/* Reads and flushes still work. */
	assert_still_works(f);
	assert_int_equal(submit(f, &(struct req){ .type = T_FLUSH }, NULL), S_OK);
}

static void test_out_of_range(void **state)
{
	struct fixture *f = *state;
	uint8_t data[1024];
	uint8_t *before = snapshot(f);
	struct resp rsp;

	memset(data, 0xab, sizeof(data));
	/* Starts inside, ends one sector past the end. */
	assert_int_equal(write_sectors(f, SECTORS - 1, data, 1024), S_IOERR);
	assert_int_equal(write_sectors(f, SECTORS, data, 512), S_IOERR);
	assert_int_equal(write_sectors(f, SECTORS + 1000, data, 512), S_IOERR);
	assert_int_equal(read_sectors(f, SECTORS - 1, 1024, &rsp), S_IOERR);
	assert_int_equal(rsp.used, 1);
	assert_int_equal(read_sectors(f, SECTORS, 512, &rsp), S_IOERR);
	assert_unchanged(f, before);
	assert_still_works(f);
}

static void test_sector_overflow(void **state)
{
	struct fixture *f = *state;
	uint8_t data[1024];
	uint8_t *before = snapshot(f);
	struct resp rsp;

	memset(data, 0xcd, sizeof(data));
	/* sector + count wraps to a small number. */
	assert_int_equal(write_sectors(f, UINT64_MAX, data, 1024), S_IOERR);
	/* sector * 512 wraps to a small offset. */
	assert_int_equal(write_sectors(f, 1ull << 55, data, 512), S_IOERR);
	assert_int_equal(write_sectors(f, (1ull << 55) + 1, data, 512), S_IOERR);
	assert_int_equal(read_sectors(f, UINT64_MAX - 1, 1024, &rsp), S_IOERR);
	assert_int_equal(read_sectors(f, 1ull << 55, 512, &rsp), S_IOERR);
	assert_unchanged(f, before);
}

static void test_length_not_sector_multiple(void **state)
{
	struct fixture *f = *state;
	uint8_t data[1024];
	uint8_t *before = snapshot(f);
	struct resp rsp;

	memset(data, 0xef, sizeof(data));
	assert_int_equal(write_sectors(f, 2, data, 513), S_IOERR);
	assert_int_equal(write_sectors(f, 2, data, 100), S_IOERR);
	assert_int_equal(read_sectors(f, 2, 100, &rsp), S_IOERR);
	assert_int_equal(read_sectors(f, 2, 1023, &rsp), S_IOERR);
	assert_unchanged(f, before);
}

static void test_unknown_type(void **state)
{
	struct fixture *f = *state;
	static const uint32_t types[] = { 2, 3, 5, T_GET_LIFETIME, 12, 14, 16, 99, 0x80000000u,
					  0x80000001u, UINT32_MAX };
	uint8_t *before = snapshot(f);
	struct resp rsp;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_int_equal(submit(f, &(struct req){ .type = types[i], .in_len = 512 }, &rsp),
				 S_UNSUPP);
		assert_int_equal(rsp.used, 1);
	}
	assert_unchanged(f, before);
}

static void get_id(struct fixture *f, char id[20])
{
	struct resp rsp;

	assert_int_equal(submit(f, &(struct req){ .type = T_GET_ID, .in_len = 20 }, &rsp), S_OK);
	assert_int_equal(rsp.used, 21);
	memcpy(id, rsp.in, 20);
}

static void test_get_id(void **state)
{
	struct fixture *f = *state;
	char id[20], again[20], other[20];
	struct resp rsp;

	get_id(f, id);
	assert_memory_equal(id, "avp-", 4);
	for (int i = 4; i < 20; i++)
		assert_non_null(strchr("0123456789abcdef", id[i]));

	/* Stable for the same image... */
	start_device(f, false, false, true);
	get_id(f, again);
	assert_memory_equal(id, again, 20);
	/* ...and different for another. */
	make_image(f->path2, sizeof(f->path2));
	stop_device(f);
	f->cfg.path = f->path2;
	f->cfg.read_only = false;
	assert_int_equal(virtio_blk_create(&f->dev, &f->cfg), 0);
	vqh_init(&f->h, RAM_SIZE);
	f->harness_up = true;
	vqh_attach(&f->h, f->dev, false, false);
	vqh_setup_queue(&f->h, f->dev, 0, QSIZE);
	get_id(f, other);
	assert_memory_not_equal(id, other, 20);

	/* A short buffer gets what fits, nothing beyond it. */
	assert_int_equal(submit(f, &(struct req){ .type = T_GET_ID, .in_len = 8 }, &rsp), S_OK);
	assert_int_equal(rsp.used, 9);
	assert_memory_equal(rsp.in, other, 8);
}

/* A discard / write zeroes payload of n segments. */
static void make_segs(uint8_t *buf, unsigned int n, uint64_t sector, uint32_t count, uint32_t flags)
{
	for (unsigned int i = 0; i < n; i++) {
		put_le64(buf + 16 * i, sector + (uint64_t)i * count * 2);
		put_le32(buf + 16 * i + 8, count);
		put_le32(buf + 16 * i + 12, flags);
	}
}

static void assert_zero_sectors(struct fixture *f, uint64_t sector, uint64_t count)
{
	uint8_t buf[512];
	struct resp rsp;

	for (uint64_t s = sector; s < sector + count; s++) {
		file_read(f, s * 512, buf, sizeof(buf));
		for (size_t i = 0; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0);
		assert_int_equal(read_sectors(f, s, 512, &rsp), S_OK);
		for (size_t i = 0; i < 512; i++)
			assert_int_equal(rsp.in[i], 0);
	}
}

static void assert_pattern_sectors(struct fixture *f, uint64_t sector, uint64_t count)
{
	uint8_t buf[512];

	for (uint64_t s = sector; s < sector + count; s++) {
		file_read(f, s * 512, buf, sizeof(buf));
		for (size_t i = 0; i < sizeof(buf); i++)
			assert_int_equal(buf[i], pattern(s * 512 + i));
	}
}

static void test_write_zeroes(void **state)
{
	struct fixture *f = *state;
	uint8_t segs[16 * 2];

	/* Unaligned, no unmap. */
	make_segs(segs, 1, 1, 3, 0);
	assert_int_equal(submit(f, &(struct req){ .type = T_WRITE_ZEROES, .out = segs, .out_len = 16 },
				NULL),
			 S_OK);
	assert_pattern_sectors(f, 0, 1);
	assert_zero_sectors(f, 1, 3);
	assert_pattern_sectors(f, 4, 4);

	/* Two segments with unmap: sectors 16..23 and 32..39. */
	make_segs(segs, 2, 16, 8, 1);
	assert_int_equal(submit(f, &(struct req){ .type = T_WRITE_ZEROES, .out = segs, .out_len = 32 },
				NULL),
			 S_OK);
	assert_pattern_sectors(f, 8, 8);
	assert_zero_sectors(f, 16, 8);
	assert_pattern_sectors(f, 24, 8);
	assert_zero_sectors(f, 32, 8);
	assert_pattern_sectors(f, 40, 8);

	/* Up to the very last sector. */
	make_segs(segs, 1, SECTORS - 2, 2, 0);
	assert_int_equal(submit(f, &(struct req){ .type = T_WRITE_ZEROES, .out = segs, .out_len = 16 },
				NULL),
			 S_OK);
	assert_zero_sectors(f, SECTORS - 2, 2);
	assert_int_equal(file_size(f->path), IMG_SIZE);
}

static void test_discard(void **state)
{
	struct fixture *f = *state;
	uint8_t segs[16];

	/* Whole 4 KiB host blocks, so the hole really is punched. */
	make_segs(segs, 1, 8, 8, 0);
	assert_int_equal(submit(f, &(struct req){ .type = T_DISCARD, .out = segs, .out_len = 16 }, NULL),
			 S_OK);
	assert_pattern_sectors(f, 0, 8);
	assert_pattern_sectors(f, 16, 8);
	assert_int_equal(file_size(f->path), IMG_SIZE);
	/* Discarded data may read back as anything (5.2.6.1); a punched
	 * hole on the file systems tests run on reads back zeros. */
	assert_zero_sectors(f, 8, 8);
}

static void test_discard_write_zeroes_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t segs[16 * 40];
	uint8_t *before = snapshot(f);
	struct req r = { .out = segs, .out_len = 16 };

	/* unmap is invalid on discard; unknown flags on either. */
	make_segs(segs, 1, 0, 1, 1);
	r.type = T_DISCARD;
	assert_int_equal(submit(f, &r, NULL), S_UNSUPP);
	make_segs(segs, 1, 0, 1, 2);
	assert_int_equal(submit(f, &r, NULL), S_UNSUPP);
	r.type = T_WRITE_ZEROES;
	assert_int_equal(submit(f, &r, NULL), S_UNSUPP);
	make_segs(segs, 1, 0, 1, 0x80000001u);
	assert_int_equal(submit(f, &r, NULL), S_UNSUPP);

	/* Out of range, and wrapping. */
	make_segs(segs, 1, SECTORS - 1, 2, 0);
	assert_int_equal(submit(f, &r, NULL), S_IOERR);
	make_segs(segs, 1, UINT64_MAX, 2, 0);
	assert_int_equal(submit(f, &r, NULL), S_IOERR);
	make_segs(segs, 1, 1ull << 55, 1, 0);
	assert_int_equal(submit(f, &r, NULL), S_IOERR);
	r.type = T_DISCARD;
	make_segs(segs, 1, SECTORS, 1, 0);
	assert_int_equal(submit(f, &r, NULL), S_IOERR);
	/* More sectors than max_*_sectors. */
	make_segs(segs, 1, 0, UINT32_MAX, 0);
	assert_int_equal(submit(f, &r, NULL), S_IOERR);

	/* A bad segment after a good one: nothing is done. */
	make_segs(segs, 2, 0, 1, 0);
	put_le64(segs + 16, SECTORS);
	r = (struct req){ .type = T_WRITE_ZEROES, .out = segs, .out_len = 32 };
	assert_int_equal(submit(f, &r, NULL), S_IOERR);

	/* No segment, a partial one, more than max_*_seg. */
	r.out_len = 0;
	assert_int_equal(submit(f, &r, NULL), S_IOERR);
	r.out_len = 24;
	assert_int_equal(submit(f, &r, NULL), S_IOERR);
	make_segs(segs, 40, 0, 1, 0);
	r.out_len = 16 * 40;
	assert_int_equal(submit(f, &r, NULL), S_UNSUPP);

	/* Not negotiated. */
	f->dev->driver_features &= ~((1ull << F_DISCARD) | (1ull << F_WRITE_ZEROES));
	make_segs(segs, 1, 0, 1, 0);
	r.out_len = 16;
	assert_int_equal(submit(f, &r, NULL), S_UNSUPP);
	r.type = T_DISCARD;
	assert_int_equal(submit(f, &r, NULL), S_UNSUPP);

	assert_unchanged(f, before);
}

/* Lays out hand-written descriptors at the harness's next free slots;
 * `next` in d[] is relative to the first. Returns the head. */
static uint16_t post_raw(struct fixture *f, const struct virtq_desc *d, unsigned int n)
{
	struct virtq_desc *table = vqh_desc(&f->h, f->dev, 0);
	uint16_t base = f->h.next_desc[0] % QSIZE;

	for (unsigned int i = 0; i < n; i++) {
		table[(base + i) % QSIZE] = d[i];
		table[(base + i) % QSIZE].next = (uint16_t)((base + d[i].next) % QSIZE);
	}
	f->h.next_desc[0] = (uint16_t)(f->h.next_desc[0] + n);
	vqh_publish_head(&f->h, f->dev, 0, base);
	return base;
}

static uint64_t header(struct fixture *f, uint32_t type, uint64_t sector)
{
	uint8_t hdr[16] = { 0 };

	put_le32(hdr, type);
	put_le64(hdr + 8, sector);
	return alloc_fill(f, hdr, sizeof(hdr), 0);
}

static void test_hostile_short_header(void **state)
{
	struct fixture *f = *state;
	uint64_t hdr = header(f, T_IN, 0);
	uint64_t data = alloc_fill(f, NULL, 512, 0xee);
	uint64_t st = alloc_fill(f, NULL, 1, S_UNTOUCHED);
	uint16_t head = post_raw(f,
				 (struct virtq_desc[]){
					 { hdr, 8, VIRTQ_DESC_F_NEXT, 1 },
					 { data, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2 },
					 { st, 1, VIRTQ_DESC_F_WRITE, 0 },
				 },
				 3);

	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(expect_used(f, head), 0);
	assert_int_equal(*(uint8_t *)vqh_hva(&f->h, st), S_UNTOUCHED);
	assert_int_equal(*(uint8_t *)vqh_hva(&f->h, data), 0xee);
	assert_still_works(f);
}

static void test_hostile_no_status(void **state)
{
	struct fixture *f = *state;
	uint64_t hdr = header(f, T_OUT, 0);
	uint64_t data = alloc_fill(f, NULL, 512, 0x42);
	uint8_t *before = snapshot(f);
	uint16_t head;

	/* Only readable descriptors: nowhere to put a status. */
	head = post_raw(f,
			(struct virtq_desc[]){ { hdr, 16, VIRTQ_DESC_F_NEXT, 1 }, { data, 512, 0, 0 } },
			2);
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(expect_used(f, head), 0);
	/* The status byte in a readable descriptor is no better. */
	head = post_raw(f,
			(struct virtq_desc[]){ { hdr, 16, VIRTQ_DESC_F_NEXT, 1 },
					       { data, 512, VIRTQ_DESC_F_NEXT, 2 },
					       { alloc_fill(f, NULL, 1, S_UNTOUCHED), 1, 0, 0 } },
			3);
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(expect_used(f, head), 0);
	/* A zero-length writable descriptor holds no status byte either. */
	head = post_raw(f,
			(struct virtq_desc[]){ { hdr, 16, VIRTQ_DESC_F_NEXT, 1 },
					       { data, 512, VIRTQ_DESC_F_NEXT, 2 },
					       { data, 0, VIRTQ_DESC_F_WRITE, 0 } },
			3);
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(expect_used(f, head), 0);
	/* Header only in writable memory. */
	head = post_raw(f, (struct virtq_desc[]){ { hdr, 17, VIRTQ_DESC_F_WRITE, 0 } }, 1);
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(expect_used(f, head), 0);
	assert_unchanged(f, before);
	assert_still_works(f);
}

static void test_hostile_chains(void **state)
{
	struct fixture *f = *state;
	uint64_t hdr = header(f, T_IN, 0);
	uint64_t data = alloc_fill(f, NULL, 512, 0xee);
	uint64_t st = alloc_fill(f, NULL, 1, S_UNTOUCHED);
	uint16_t head;

	/* A loop. */
	head = post_raw(f,
			(struct virtq_desc[]){ { hdr, 16, VIRTQ_DESC_F_NEXT, 1 },
					       { data, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0 } },
			2);
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(expect_used(f, head), 0);
	/* Readable after writable. */
	head = post_raw(f,
			(struct virtq_desc[]){ { hdr, 16, VIRTQ_DESC_F_NEXT, 1 },
					       { st, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2 },
					       { data, 512, 0, 0 } },
			3);
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(expect_used(f, head), 0);
	/* A buffer outside guest RAM. */
	head = post_raw(f,
			(struct virtq_desc[]){ { hdr, 16, VIRTQ_DESC_F_NEXT, 1 },
					       { VQH_RAM_GPA + RAM_SIZE - 256, 512,
						 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2 },
					       { st, 1, VIRTQ_DESC_F_WRITE, 0 } },
			3);
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(expect_used(f, head), 0);
	/* Indirect descriptor that was not negotiated. */
	f->dev->vqs[0].indirect = false;
	head = post_raw(f, (struct virtq_desc[]){ { hdr, 32, VIRTQ_DESC_F_INDIRECT, 0 } }, 1);
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(expect_used(f, head), 0);
	f->dev->vqs[0].indirect = true;

	assert_int_equal(*(uint8_t *)vqh_hva(&f->h, st), S_UNTOUCHED);
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_still_works(f);
}

static void test_hostile_ring(void **state)
{
	struct fixture *f = *state;
	uint32_t id, len;

	/* A head index outside the queue breaks the ring itself. */
	vqh_publish_head(&f->h, f->dev, 0, QSIZE + 3);
	vqh_kick(&f->h, f->dev, 0);
	assert_false(vqh_used(&f->h, f->dev, 0, &id, &len));
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(f->h.isr_bits & 2); /* config change interrupt */
}

static void test_requests_before_broken_ring_complete(void **state)
{
	struct fixture *f = *state;
	uint64_t hdr = header(f, T_IN, 0);
	uint64_t st = alloc_fill(f, NULL, 1, S_UNTOUCHED);
	uint16_t head = vqh_post(&f->h, f->dev, 0,
				 (struct vqh_buf[]){ { hdr, 16, false }, { st, 1, true } }, 2);

	vqh_publish_head(&f->h, f->dev, 0, UINT16_MAX);
	vqh_kick(&f->h, f->dev, 0);
	if (f->aio == DISK_AIO_IO_URING) {
		uint32_t id, len;

		/* The read is the kernel's when the ring breaks: published
		 * with the batch when it finished within the submission,
		 * else never (after a needs-reset the rings are the driver's
		 * to rebuild); a reset waits for it either way. */
		assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
		pthread_mutex_lock(&f->dev->lock);
		f->dev->ops->reset(f->dev);
		pthread_mutex_unlock(&f->dev->lock);
		if (vqh_used(&f->h, f->dev, 0, &id, &len)) {
			assert_int_equal(id, head);
			assert_int_equal(len, 1);
			assert_int_equal(*(uint8_t *)vqh_hva(&f->h, st), S_OK);
		}
		assert_false(vqh_used(&f->h, f->dev, 0, &id, &len));
		return;
	}
	assert_int_equal(expect_used(f, head), 1);
	assert_int_equal(*(uint8_t *)vqh_hva(&f->h, st), S_OK);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_indirect(void **state)
{
	struct fixture *f = *state;
	uint8_t data[1024];
	struct resp rsp;

	memset(data, 0x3c, sizeof(data));
	assert_int_equal(submit(f, &(struct req){ .type = T_OUT, .sector = 30, .out = data,
						  .out_len = sizeof(data), .indirect = true },
				&rsp),
			 S_OK);
	assert_int_equal(rsp.used, 1);
	assert_int_equal(submit(f, &(struct req){ .type = T_IN, .sector = 30, .in_len = 1024,
						  .indirect = true },
				&rsp),
			 S_OK);
	assert_int_equal(rsp.used, 1025);
	assert_memory_equal(rsp.in, data, sizeof(data));
}

/* Three descriptors a request: as many as fit in the table at once. */
#define BATCH (QSIZE / 3)

static void test_batch_one_interrupt(void **state)
{
	struct fixture *f = *state;
	uint16_t heads[BATCH];
	uint64_t st[BATCH];
	uint32_t id, len;

	for (unsigned int i = 0; i < BATCH; i++) {
		uint64_t hdr = header(f, T_IN, i);
		uint64_t data = alloc_fill(f, NULL, 512, 0xee);

		st[i] = alloc_fill(f, NULL, 1, S_UNTOUCHED);
		heads[i] = vqh_post(&f->h, f->dev, 0,
				    (struct vqh_buf[]){ { hdr, 16, false },
							{ data, 512, true },
							{ st[i], 1, true } },
				    3);
	}
	f->h.irqs = 0;
	vqh_kick(&f->h, f->dev, 0);
	if (f->aio == DISK_AIO_IO_URING) {
		/* Each exactly once, in whatever order the kernel finished
		 * them, with an interrupt per group published. */
		bool seen[QSIZE] = { false };

		for (unsigned int i = 0; i < BATCH; i++) {
			assert_true(next_used(f, 0, &id, &len));
			assert_true(id < QSIZE);
			assert_false(seen[id]);
			seen[id] = true;
			assert_int_equal(len, 513);
		}
		for (unsigned int i = 0; i < BATCH; i++) {
			assert_true(seen[heads[i]]);
			assert_int_equal(*(uint8_t *)vqh_hva(&f->h, st[i]), S_OK);
		}
		assert_false(vqh_used(&f->h, f->dev, 0, &id, &len));
		assert_true(f->h.irqs >= 1 && f->h.irqs <= BATCH);
		return;
	}
	for (unsigned int i = 0; i < BATCH; i++) {
		assert_true(vqh_used(&f->h, f->dev, 0, &id, &len));
		assert_int_equal(id, heads[i]);
		assert_int_equal(len, 513);
		assert_int_equal(*(uint8_t *)vqh_hva(&f->h, st[i]), S_OK);
	}
	assert_false(vqh_used(&f->h, f->dev, 0, &id, &len));
	assert_int_equal(f->h.irqs, 1);

	/* A kick with nothing new interrupts nobody. */
	vqh_kick(&f->h, f->dev, 0);
	assert_int_equal(f->h.irqs, 1);
}

static void test_event_idx(void **state)
{
	struct fixture *f = *state;

	start_device(f, false, true, false);
	f->h.irqs = 0;
	assert_still_works(f);
	assert_still_works(f);
	assert_true(f->h.irqs >= 1);
}


/* A driver that publishes one head over and over (each entry a new
 * request to the device) never gets more chains outstanding than its
 * queue holds: the rest wait until completions free room, then are
 * served without another kick. */
static void republish_bounded(struct fixture *f);

static void test_hostile_republish_bounded(void **state)
{
	struct fixture *f = *state;

	/* With io_uring, O_DIRECT reads go to the host's disk and are still
	 * in flight when the second batch comes (page-cache reads complete
	 * within the submission and would hide a missing bound). */
	if (f->aio == DISK_AIO_IO_URING) {
		f->cfg.cache = DISK_CACHE_NONE;
		start_device(f, false, false, true);
		f->cfg.cache = DISK_CACHE_WRITEBACK;
	}
	republish_bounded(f);
}

static void republish_bounded(struct fixture *f)
{
	const struct virtq *vq;
	uint64_t data = alloc_fill(f, NULL, 512, 0xee);
	uint64_t st = alloc_fill(f, NULL, 1, S_UNTOUCHED);
	uint16_t head = vqh_post(&f->h, f->dev, 0,
				 (struct vqh_buf[]){ { header(f, T_IN, 5), 16, false },
						     { data, 512, true },
						     { st, 1, true } },
				 3);
	unsigned int used = 0;
	uint32_t id, len;

	vq = &f->dev->vqs[0];
	/* vqh_post published it once; QSIZE - 1 more, then a kick. */
	for (unsigned int i = 1; i < QSIZE; i++)
		vqh_publish_head(&f->h, f->dev, 0, head);
	vqh_kick(&f->h, f->dev, 0);
	assert_true((uint16_t)(vq->last_avail_idx - vq->used_idx) <= QSIZE);
	/* Ten more while those may still be the disk's. */
	for (unsigned int i = 0; i < 10; i++)
		vqh_publish_head(&f->h, f->dev, 0, head);
	vqh_kick(&f->h, f->dev, 0);
	assert_true((uint16_t)(vq->last_avail_idx - vq->used_idx) <= QSIZE);
	while (used < QSIZE + 10) {
		assert_true(next_used(f, 0, &id, &len));
		assert_int_equal(id, head);
		assert_int_equal(len, 513);
		assert_true((uint16_t)(vq->last_avail_idx - vq->used_idx) <= QSIZE);
		used++;
	}
	assert_false(vqh_used(&f->h, f->dev, 0, &id, &len));
	assert_int_equal(vq->last_avail_idx, QSIZE + 10);
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* VIRTIO_BLK_F_MQ (5.2.3, 5.2.4): queues=N request queues, num_queues
 * in the config; each queue's requests complete on that queue. */
static void test_mq_config(void **state)
{
	struct fixture *f = *state;

	/* One queue: no MQ, num_queues 1. */
	assert_false(f->dev->ops->features(f->dev) & (1ull << F_MQ));
	assert_int_equal(get_le(f->dev->config + 34, 2), 1);
	f->queues = 4;
	start_device(f, false, false, true);
	assert_int_equal(f->dev->ops->num_queues, 4);
	assert_true(f->dev->ops->features(f->dev) & (1ull << F_MQ));
	assert_int_equal(get_le(f->dev->config + 34, 2), 4);
	/* More than the transport has: capped. */
	f->queues = 100;
	start_device(f, false, false, true);
	assert_int_equal(f->dev->ops->num_queues, VIRTIO_BLK_MAX_QUEUES);
	assert_int_equal(get_le(f->dev->config + 34, 2), VIRTIO_BLK_MAX_QUEUES);
	f->queues = 0;
}

static void test_mq_requests(void **state)
{
	struct fixture *f = *state;
	uint8_t data[1024];
	uint64_t st[4], buf[4];
	uint16_t head[4];
	uint32_t id, len;

	f->queues = 4;
	start_device(f, false, false, true);
	memset(data, 0x6d, sizeof(data));
	/* A write on queue 3, a read of other sectors on queues 0-2, kicked
	 * in reverse order. */
	for (uint16_t q = 0; q < 4; q++) {
		bool wr = q == 3;

		st[q] = alloc_fill(f, NULL, 1, S_UNTOUCHED);
		buf[q] = alloc_fill(f, wr ? data : NULL, sizeof(data), 0xee);
		head[q] = vqh_post(&f->h, f->dev, q,
				   (struct vqh_buf[]){ { header(f, wr ? T_OUT : T_IN, wr ? 40 : 2u * q),
							 16, false },
						       { buf[q], sizeof(data), !wr },
						       { st[q], 1, true } },
				   3);
	}
	for (int q = 3; q >= 0; q--)
		vqh_kick(&f->h, f->dev, (uint16_t)q);
	for (uint16_t q = 0; q < 4; q++) {
		const uint8_t *in = vqh_hva(&f->h, buf[q]);

		assert_true(next_used(f, q, &id, &len));
		assert_int_equal(id, head[q]);
		assert_int_equal(len, q == 3 ? 1 : sizeof(data) + 1);
		assert_int_equal(*(uint8_t *)vqh_hva(&f->h, st[q]), S_OK);
		for (size_t i = 0; q < 3 && i < sizeof(data); i++)
			assert_int_equal(in[i], pattern(2u * q * 512 + i));
		assert_false(vqh_used(&f->h, f->dev, q, &id, &len));
	}
	file_read(f, 40 * 512, data, sizeof(data));
	for (size_t i = 0; i < sizeof(data); i++)
		assert_int_equal(data[i], 0x6d);
	f->queues = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_features_and_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_then_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests_recycled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_any_framing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sector_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_length_not_sector_multiple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_write_zeroes_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_short_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_no_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests_before_broken_ring_complete, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_one_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_republish_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mq_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mq_requests, setup, teardown),
		/* The same with io_uring. */
		cmocka_unit_test_setup_teardown(test_features_and_config, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_read, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_write_then_read_back, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_requests_recycled, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_any_framing, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_sector_overflow, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_length_not_sector_multiple, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_write_zeroes, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_discard, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_discard_write_zeroes_refused, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_short_header, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_no_status, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_chains, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_ring, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_requests_before_broken_ring_complete, setup_uring,
						teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_batch_one_interrupt, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_republish_bounded, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_mq_config, setup_uring, teardown),
		cmocka_unit_test_setup_teardown(test_mq_requests, setup_uring, teardown),
	};

	return cmocka_run_group_tests_name("virtio_blk", tests, NULL, NULL);
}
