/* virtio-gpu against the pretend driver: display info, EDID, the 2D
 * create/attach/transfer/flush path down to the pixels of a screenshot
 * PNG (read back with libpng), and a hostile driver's requests. Also the
 * control-socket command and the `avp screenshot` client. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <png.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "avp/cli.h"
#include "avp/cli_screenshot.h"
#include "avp/devices/virtio_rng.h"
#include "avp/devices/virtio_gpu.h"
#include "support/vq_harness.h"
#include "support/config_helper.h"

#define QSIZE 256
#define CTRLQ VIRTIO_GPU_CTRLQ
#define CURSORQ VIRTIO_GPU_CURSORQ
#define RAM (24u << 20)

struct fixture {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *dev;
	int resched_fd;
	char dir[64]; /* scratch directory for PNGs and sockets */
};

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct fixture *f = (struct fixture *)dev->transport;

	(void)events;
	f->resched_fd = fd;
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	(void)dev;
	(void)fd;
	return 0;
}

static int setup_size(void **state, uint32_t w, uint32_t h)
{
	static struct fixture f;
	struct avp_gpu_cfg cfg = { .width = w, .height = h };

	memset(&f, 0, sizeof(f));
	f.resched_fd = -1;
	strcpy(f.dir, "/tmp/avp-gpu-test.XXXXXX");
	assert_non_null(mkdtemp(f.dir));
	vqh_init(&f.h, RAM);
	assert_int_equal(virtio_gpu_create(&f.dev, &cfg), 0);
	vqh_attach(&f.h, f.dev, true, true);
	vqh_set_watch(&f.h, f.dev, spy_watch, spy_unwatch);
	vqh_setup_queue(&f.h, f.dev, CTRLQ, QSIZE);
	vqh_setup_queue(&f.h, f.dev, CURSORQ, QSIZE);
	assert_int_equal(vqh_activate(&f.h, f.dev), 0);
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	return setup_size(state, 0, 0); /* the default 1280x720 */
}

static int setup_800x600(void **state)
{
	return setup_size(state, 800, 600);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	f->dev->ops->destroy(f->dev);
	vqh_free(&f->h);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ---- the pretend driver's side of the protocol ---- */

static void hdr_init(struct virtio_gpu_ctrl_hdr *h, uint32_t type)
{
	memset(h, 0, sizeof(*h));
	h->type = htole32(type);
}

/* Posts [request (readable), response (writable, resp_len; none if 0)]
 * on q, kicks, and returns the bytes the device wrote (copied to resp). */
static uint32_t gpu_cmd_q(struct fixture *f, uint16_t q, const void *req, uint32_t req_len,
			  void *resp, uint32_t resp_len)
{
	uint64_t in = vqh_alloc(&f->h, req_len), out = 0;
	struct vqh_buf b[2] = { { in, req_len, false }, { 0, resp_len, true } };
	uint16_t head;
	uint32_t id, len;

	memcpy(vqh_hva(&f->h, in), req, req_len);
	if (resp_len) {
		out = vqh_alloc(&f->h, resp_len);
		b[1].gpa = out;
	}
	head = vqh_post(&f->h, f->dev, q, b, resp_len ? 2 : 1);
	vqh_kick(&f->h, f->dev, q);
	assert_true(vqh_used(&f->h, f->dev, q, &id, &len));
	assert_int_equal(id, head);
	assert_true(len <= resp_len);
	if (resp_len)
		memcpy(resp, vqh_hva(&f->h, out), resp_len);
	assert_false(vqh_used(&f->h, f->dev, q, &id, &len));
	return len;
}

/* A control command whose response is a bare header: returns its type. */
static uint32_t gpu_cmd(struct fixture *f, const void *req, uint32_t req_len)
{
	struct virtio_gpu_ctrl_hdr resp;

	assert_int_equal(gpu_cmd_q(f, CTRLQ, req, req_len, &resp, sizeof(resp)), sizeof(resp));
	return le32toh(resp.type);
}

static uint32_t create_2d(struct fixture *f, uint32_t id, uint32_t format, uint32_t w, uint32_t h)
{
	struct virtio_gpu_resource_create_2d c;

	hdr_init(&c.hdr, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);
	c.resource_id = htole32(id);
	c.format = htole32(format);
	c.width = htole32(w);
	c.height = htole32(h);
	return gpu_cmd(f, &c, sizeof(c));
}

static uint32_t unref(struct fixture *f, uint32_t id)
{
	struct virtio_gpu_resource_unref c;

	hdr_init(&c.hdr, VIRTIO_GPU_CMD_RESOURCE_UNREF);
	c.resource_id = htole32(id);
	c.padding = 0;
	return gpu_cmd(f, &c, sizeof(c));
}

/* ATTACH_BACKING with the given entries (gpa, length). */
static uint32_t attach(struct fixture *f, uint32_t id, const uint64_t *gpa, const uint32_t *len,
		       uint32_t n)
{
	size_t size = sizeof(struct virtio_gpu_resource_attach_backing) +
		      n * sizeof(struct virtio_gpu_mem_entry);
	uint8_t *buf = calloc(1, size);
	struct virtio_gpu_resource_attach_backing *a = (void *)buf;
	struct virtio_gpu_mem_entry *e = (void *)(buf + sizeof(*a));
	uint32_t type;

	assert_non_null(buf);
	hdr_init(&a->hdr, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING);
	a->resource_id = htole32(id);
	a->nr_entries = htole32(n);
	for (uint32_t i = 0; i < n; i++) {
		e[i].addr = htole64(gpa[i]);
		e[i].length = htole32(len[i]);
	}
	type = gpu_cmd(f, buf, (uint32_t)size);
	free(buf);
	return type;
}

static void rect_set(struct virtio_gpu_rect *r, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	r->x = htole32(x);
	r->y = htole32(y);
	r->width = htole32(w);
	r->height = htole32(h);
}

static uint32_t transfer(struct fixture *f, uint32_t id, uint32_t x, uint32_t y, uint32_t w,
			 uint32_t h, uint64_t offset)
{
	struct virtio_gpu_transfer_to_host_2d t;

	hdr_init(&t.hdr, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D);
	rect_set(&t.r, x, y, w, h);
	t.offset = htole64(offset);
	t.resource_id = htole32(id);
	t.padding = 0;
	return gpu_cmd(f, &t, sizeof(t));
}

static uint32_t set_scanout(struct fixture *f, uint32_t scanout, uint32_t id, uint32_t x,
			    uint32_t y, uint32_t w, uint32_t h)
{
	struct virtio_gpu_set_scanout s;

	hdr_init(&s.hdr, VIRTIO_GPU_CMD_SET_SCANOUT);
	rect_set(&s.r, x, y, w, h);
	s.scanout_id = htole32(scanout);
	s.resource_id = htole32(id);
	return gpu_cmd(f, &s, sizeof(s));
}

static uint32_t flush(struct fixture *f, uint32_t id, uint32_t x, uint32_t y, uint32_t w,
		      uint32_t h)
{
	struct virtio_gpu_resource_flush c;

	hdr_init(&c.hdr, VIRTIO_GPU_CMD_RESOURCE_FLUSH);
	rect_set(&c.r, x, y, w, h);
	c.resource_id = htole32(id);
	c.padding = 0;
	return gpu_cmd(f, &c, sizeof(c));
}

/* A guest framebuffer of w x h 4-byte pixels in guest RAM. */
static uint64_t guest_fb(struct fixture *f, uint32_t w, uint32_t h)
{
	return vqh_alloc(&f->h, (uint64_t)w * h * 4);
}

static void put_pixel(struct fixture *f, uint64_t fb, uint32_t w, uint32_t x, uint32_t y,
		      const uint8_t px[4])
{
	memcpy((uint8_t *)vqh_hva(&f->h, fb) + ((uint64_t)y * w + x) * 4, px, 4);
}

/* Fills a w x h B8G8R8X8 framebuffer with four quadrants: red, green,
 * blue, white (top-left, top-right, bottom-left, bottom-right). */
static void draw_quadrants(struct fixture *f, uint64_t fb, uint32_t w, uint32_t h)
{
	static const uint8_t bgrx[4][4] = {
		{ 0, 0, 255, 0 }, { 0, 255, 0, 0 }, { 255, 0, 0, 0 }, { 255, 255, 255, 0 }
	};

	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			put_pixel(f, fb, w, x, y, bgrx[(y >= h / 2) * 2 + (x >= w / 2)]);
}

/* ---- PNG read-back ---- */

struct image {
	uint32_t w, h;
	uint8_t *rgb;
};

static void read_png(const char *path, struct image *img)
{
	png_image pi;

	memset(&pi, 0, sizeof(pi));
	pi.version = PNG_IMAGE_VERSION;
	assert_true(png_image_begin_read_from_file(&pi, path));
	/* The device writes plain 8-bit RGB. */
	assert_int_equal(pi.format, PNG_FORMAT_RGB);
	pi.format = PNG_FORMAT_RGB;
	img->w = pi.width;
	img->h = pi.height;
	img->rgb = malloc(PNG_IMAGE_SIZE(pi));
	assert_non_null(img->rgb);
	assert_true(png_image_finish_read(&pi, NULL, img->rgb, 0, NULL));
}

static void expect_rgb(const struct image *img, uint32_t x, uint32_t y, uint8_t r, uint8_t g,
		       uint8_t b)
{
	const uint8_t *p = img->rgb + ((size_t)y * img->w + x) * 3;

	if (p[0] != r || p[1] != g || p[2] != b)
		fail_msg("pixel (%u,%u) is %u,%u,%u, expected %u,%u,%u", x, y, p[0], p[1], p[2], r,
			 g, b);
}

static void shot(struct fixture *f, struct image *img)
{
	char path[128];
	uint32_t w = 0, h = 0;

	snprintf(path, sizeof(path), "%s/shot.png", f->dir);
	assert_int_equal(virtio_gpu_screenshot(f->dev, path, &w, &h), 0);
	read_png(path, img);
	assert_int_equal(img->w, w);
	assert_int_equal(img->h, h);
}

/* ---- identity, config, display info, EDID ---- */

static void test_identity(void **state)
{
	struct fixture *f = *state;
	struct virtio_gpu_config cfg;

	assert_int_equal(f->dev->ops->device_id, 16);
	assert_int_equal(f->dev->ops->num_queues, 2);
	assert_true(f->dev->ops->features(f->dev) & (1ull << VIRTIO_GPU_F_EDID));
	assert_false(f->dev->ops->features(f->dev) & (1ull << VIRTIO_GPU_F_VIRGL));
	assert_int_equal(f->dev->config_len, sizeof(cfg));
	memcpy(&cfg, f->dev->config, sizeof(cfg));
	assert_int_equal(le32toh(cfg.num_scanouts), 1);
	assert_int_equal(le32toh(cfg.num_capsets), 0);
	assert_int_equal(le32toh(cfg.events_read), 0);
}

static void test_events_clear(void **state)
{
	struct fixture *f = *state;
	struct virtio_gpu_config *cfg = (void *)f->dev->config;
	uint32_t one = htole32(VIRTIO_GPU_EVENT_DISPLAY), ro = htole32(7);

	cfg->events_read = htole32(VIRTIO_GPU_EVENT_DISPLAY | 0x10);
	f->dev->ops->config_write(f->dev, offsetof(struct virtio_gpu_config, events_clear), &one, 4);
	assert_int_equal(le32toh(cfg->events_read), 0x10);
	/* events_read and num_scanouts are not the driver's to write. */
	f->dev->ops->config_write(f->dev, offsetof(struct virtio_gpu_config, events_read), &ro, 4);
	f->dev->ops->config_write(f->dev, offsetof(struct virtio_gpu_config, num_scanouts), &ro, 4);
	assert_int_equal(le32toh(cfg->events_read), 0x10);
	assert_int_equal(le32toh(cfg->num_scanouts), 1);
}

static void check_display_info(struct fixture *f, uint32_t w, uint32_t h)
{
	struct virtio_gpu_ctrl_hdr req;
	struct virtio_gpu_resp_display_info resp;

	hdr_init(&req, VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	assert_int_equal(gpu_cmd_q(f, CTRLQ, &req, sizeof(req), &resp, sizeof(resp)), sizeof(resp));
	assert_int_equal(le32toh(resp.hdr.type), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	assert_int_equal(le32toh(resp.pmodes[0].r.x), 0);
	assert_int_equal(le32toh(resp.pmodes[0].r.y), 0);
	assert_int_equal(le32toh(resp.pmodes[0].r.width), w);
	assert_int_equal(le32toh(resp.pmodes[0].r.height), h);
	assert_int_equal(le32toh(resp.pmodes[0].enabled), 1);
	for (int i = 1; i < VIRTIO_GPU_MAX_SCANOUTS; i++)
		assert_int_equal(le32toh(resp.pmodes[i].enabled), 0);
}

static void test_display_info(void **state)
{
	check_display_info(*state, 1280, 720);
}

static void test_display_info_configured(void **state)
{
	check_display_info(*state, 800, 600);
}

/* Checks a base block: header, checksum, and the preferred (first)
 * detailed timing's active size. */
static void check_edid(const uint8_t *e, uint32_t w, uint32_t h)
{
	static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	uint8_t sum = 0;
	const uint8_t *d = e + 54;

	assert_memory_equal(e, header, 8);
	for (int i = 0; i < 128; i++)
		sum = (uint8_t)(sum + e[i]);
	assert_int_equal(sum, 0);
	assert_int_equal(e[18], 1); /* version 1.4 */
	assert_int_equal(e[19], 4);
	assert_int_equal(e[126], 0); /* no extensions */
	assert_true(d[0] | d[1]);    /* a timing, not a display descriptor */
	assert_int_equal(d[2] | (d[4] >> 4) << 8, w);
	assert_int_equal(d[5] | (d[7] >> 4) << 8, h);
	/* Manufacturer "AVP". */
	assert_int_equal((e[8] << 8 | e[9]), (1 << 10) | (22 << 5) | 16);
}

static void test_edid(void **state)
{
	struct fixture *f = *state;
	struct virtio_gpu_get_edid req;
	struct virtio_gpu_resp_edid resp;

	hdr_init(&req.hdr, VIRTIO_GPU_CMD_GET_EDID);
	req.scanout = 0;
	req.padding = 0;
	assert_int_equal(gpu_cmd_q(f, CTRLQ, &req, sizeof(req), &resp, sizeof(resp)), sizeof(resp));
	assert_int_equal(le32toh(resp.hdr.type), VIRTIO_GPU_RESP_OK_EDID);
	assert_int_equal(le32toh(resp.size), 128);
	check_edid(resp.edid, 800, 600);

	/* One scanout only. */
	req.scanout = htole32(1);
	assert_int_equal(gpu_cmd(f, &req, sizeof(req)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Not negotiated: not served. */
	req.scanout = 0;
	f->dev->driver_features &= ~(1ull << VIRTIO_GPU_F_EDID);
	assert_int_equal(gpu_cmd(f, &req, sizeof(req)), VIRTIO_GPU_RESP_ERR_UNSPEC);
}

static void test_edid_sizes(void **state)
{
	static const uint32_t sizes[][2] = {
		{ 1280, 720 }, { 1920, 1080 }, { 3840, 2160 }, { 1080, 1920 }, { 32, 32 },
		{ 4095, 2025 }, { 2025, 4095 }, { 4095, 32 },
	};
	uint8_t e[128];

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t w = sizes[i][0], h = sizes[i][1], hblank, vblank;
		const uint8_t *d = e + 54;
		uint64_t clock;

		virtio_gpu_make_edid(e, w, h);
		check_edid(e, w, h);
		hblank = d[3] | (d[4] & 0xf) << 8;
		vblank = d[6] | (d[7] & 0xf) << 8;
		/* The pixel clock gives about 60 Hz (it did not saturate). */
		clock = (uint64_t)(d[0] | d[1] << 8) * 10000;
		assert_true(clock / ((uint64_t)(w + hblank) * (h + vblank)) >= 59);
		assert_true(clock / ((uint64_t)(w + hblank) * (h + vblank)) <= 60);
	}
}

static void test_fence_echoed(void **state)
{
	struct fixture *f = *state;
	struct virtio_gpu_ctrl_hdr req, resp;
	struct virtio_gpu_resource_create_2d c;

	hdr_init(&req, VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	req.flags = htole32(VIRTIO_GPU_FLAG_FENCE);
	req.fence_id = htole64(0x1234567890abcdefull);
	req.ctx_id = htole32(5);
	assert_true(gpu_cmd_q(f, CTRLQ, &req, sizeof(req), &resp, sizeof(resp)) == sizeof(resp));
	assert_int_equal(le32toh(resp.flags) & VIRTIO_GPU_FLAG_FENCE, VIRTIO_GPU_FLAG_FENCE);
	assert_int_equal(le64toh(resp.fence_id), 0x1234567890abcdefull);

	/* Errors carry the fence too, or the driver would wait forever. */
	hdr_init(&c.hdr, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);
	c.hdr.flags = htole32(VIRTIO_GPU_FLAG_FENCE);
	c.hdr.fence_id = htole64(77);
	c.resource_id = 0; /* invalid */
	c.format = htole32(VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
	c.width = c.height = htole32(4);
	assert_int_equal(gpu_cmd_q(f, CTRLQ, &c, sizeof(c), &resp, sizeof(resp)), sizeof(resp));
	assert_int_equal(le32toh(resp.type), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(le32toh(resp.flags), VIRTIO_GPU_FLAG_FENCE);
	assert_int_equal(le64toh(resp.fence_id), 77);

	/* No fence asked, none given. */
	hdr_init(&req, VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	req.fence_id = htole64(99);
	assert_true(gpu_cmd_q(f, CTRLQ, &req, sizeof(req), &resp, sizeof(resp)) == sizeof(resp));
	assert_int_equal(le32toh(resp.flags), 0);
	assert_int_equal(le64toh(resp.fence_id), 0);
}

/* ---- the 2D path down to a screenshot ---- */

static void test_black_without_scanout(void **state)
{
	struct fixture *f = *state;
	struct image img;

	shot(f, &img);
	assert_int_equal(img.w, 1280);
	assert_int_equal(img.h, 720);
	for (size_t i = 0; i < (size_t)img.w * img.h * 3; i++)
		if (img.rgb[i])
			fail_msg("byte %zu is %u in a black screenshot", i, img.rgb[i]);
	free(img.rgb);
}

static void test_quadrants(void **state)
{
	struct fixture *f = *state;
	const uint32_t w = 64, h = 48;
	uint64_t fb = guest_fb(f, w, h);
	/* Two backing segments, split mid-row, in reverse guest order. */
	uint64_t part2 = fb + 1000 * 4 + 2;
	uint64_t gpa[2] = { fb, part2 };
	uint32_t len[2] = { 1000 * 4 + 2, w * h * 4 - (1000 * 4 + 2) };
	struct image img;

	draw_quadrants(f, fb, w, h);
	assert_int_equal(create_2d(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, w, h),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(attach(f, 1, gpa, len, 2), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(set_scanout(f, 0, 1, 0, 0, w, h), VIRTIO_GPU_RESP_OK_NODATA);
	/* Before any transfer the resource is black. */
	shot(f, &img);
	assert_int_equal(img.w, w);
	assert_int_equal(img.h, h);
	expect_rgb(&img, 0, 0, 0, 0, 0);
	free(img.rgb);

	assert_int_equal(transfer(f, 1, 0, 0, w, h, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(flush(f, 1, 0, 0, w, h), VIRTIO_GPU_RESP_OK_NODATA);
	shot(f, &img);
	expect_rgb(&img, 0, 0, 255, 0, 0);
	expect_rgb(&img, w / 2 - 1, h / 2 - 1, 255, 0, 0);
	expect_rgb(&img, w / 2, 0, 0, 255, 0);
	expect_rgb(&img, w - 1, h / 2 - 1, 0, 255, 0);
	expect_rgb(&img, 0, h / 2, 0, 0, 255);
	expect_rgb(&img, w / 2 - 1, h - 1, 0, 0, 255);
	expect_rgb(&img, w / 2, h / 2, 255, 255, 255);
	expect_rgb(&img, w - 1, h - 1, 255, 255, 255);
	free(img.rgb);
}

/* A sub-rectangle transfer reads the backing at offset, with the
 * resource's stride; the rest of the resource is untouched. */
static void test_partial_transfer(void **state)
{
	struct fixture *f = *state;
	const uint32_t w = 32, h = 16;
	uint64_t fb = guest_fb(f, w, h);
	uint32_t len = w * h * 4;
	static const uint8_t yellow[4] = { 0, 255, 255, 0 }, blue[4] = { 255, 0, 0, 0 };
	struct image img;

	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			put_pixel(f, fb, w, x, y, yellow);
	assert_int_equal(create_2d(f, 7, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, w, h),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(attach(f, 7, &fb, &len, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(transfer(f, 7, 0, 0, w, h, 0), VIRTIO_GPU_RESP_OK_NODATA);
	/* Now paint a 3x2 block at (5,4) blue in guest memory only... */
	for (uint32_t y = 4; y < 6; y++)
		for (uint32_t x = 5; x < 8; x++)
			put_pixel(f, fb, w, x, y, blue);
	/* ... and a pixel outside the transferred rectangle too. */
	put_pixel(f, fb, w, 0, 0, blue);
	assert_int_equal(transfer(f, 7, 5, 4, 3, 2, (4ull * w + 5) * 4), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(set_scanout(f, 0, 7, 0, 0, w, h), VIRTIO_GPU_RESP_OK_NODATA);
	shot(f, &img);
	expect_rgb(&img, 5, 4, 0, 0, 255);
	expect_rgb(&img, 7, 5, 0, 0, 255);
	expect_rgb(&img, 8, 5, 255, 255, 0);
	expect_rgb(&img, 5, 6, 255, 255, 0);
	expect_rgb(&img, 0, 0, 255, 255, 0); /* not transferred */
	free(img.rgb);
}

/* Each format's bytes land in the right channels; the scanout rectangle
 * picks a window of the resource. */
static void test_formats_and_window(void **state)
{
	static const struct {
		uint32_t format;
		uint8_t px[4]; /* memory order for R=10, G=20, B=30 */
	} cases[] = {
		{ VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, { 30, 20, 10, 255 } },
		{ VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, { 30, 20, 10, 0 } },
		{ VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, { 255, 10, 20, 30 } },
		{ VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, { 0, 10, 20, 30 } },
		{ VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, { 10, 20, 30, 255 } },
		{ VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, { 0, 30, 20, 10 } },
		{ VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, { 255, 30, 20, 10 } },
		{ VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, { 10, 20, 30, 0 } },
	};
	struct fixture *f = *state;
	const uint32_t w = 8, h = 8;
	static const uint8_t zero[4] = { 0, 0, 0, 0 };

	for (uint32_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t fb = guest_fb(f, w, h);
		uint32_t len = w * h * 4, id = 100 + i;
		struct image img;

		for (uint32_t y = 0; y < h; y++)
			for (uint32_t x = 0; x < w; x++)
				put_pixel(f, fb, w, x, y, x >= 2 && y >= 3 ? cases[i].px : zero);
		assert_int_equal(create_2d(f, id, cases[i].format, w, h),
				 VIRTIO_GPU_RESP_OK_NODATA);
		assert_int_equal(attach(f, id, &fb, &len, 1), VIRTIO_GPU_RESP_OK_NODATA);
		assert_int_equal(transfer(f, id, 0, 0, w, h, 0), VIRTIO_GPU_RESP_OK_NODATA);
		/* Show the 5x4 window at (1,3). */
		assert_int_equal(set_scanout(f, 0, id, 1, 3, 5, 4), VIRTIO_GPU_RESP_OK_NODATA);
		shot(f, &img);
		assert_int_equal(img.w, 5);
		assert_int_equal(img.h, 4);
		expect_rgb(&img, 0, 0, 0, 0, 0);
		expect_rgb(&img, 1, 0, 10, 20, 30);
		expect_rgb(&img, 4, 3, 10, 20, 30);
		free(img.rgb);
	}
}

static void test_unref_scanout_goes_black(void **state)
{
	struct fixture *f = *state;
	uint64_t fb = guest_fb(f, 16, 16);
	uint32_t len = 16 * 16 * 4;
	struct image img;

	memset(vqh_hva(&f->h, fb), 0xff, len);
	assert_int_equal(create_2d(f, 3, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16, 16),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(attach(f, 3, &fb, &len, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(transfer(f, 3, 0, 0, 16, 16, 0), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(set_scanout(f, 0, 3, 0, 0, 16, 16), VIRTIO_GPU_RESP_OK_NODATA);
	shot(f, &img);
	expect_rgb(&img, 15, 15, 255, 255, 255);
	free(img.rgb);
	assert_int_equal(unref(f, 3), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(unref(f, 3), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	shot(f, &img);
	assert_int_equal(img.w, 1280); /* back to the display size, black */
	expect_rgb(&img, 15, 15, 0, 0, 0);
	free(img.rgb);
	/* resource 0 disables the scanout explicitly too */
	assert_int_equal(set_scanout(f, 0, 0, 0, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
}

static void test_detach_backing(void **state)
{
	struct fixture *f = *state;
	uint64_t fb = guest_fb(f, 4, 4);
	uint32_t len = 64;
	struct virtio_gpu_resource_unref d; /* DETACH_BACKING has this layout */

	assert_int_equal(create_2d(f, 9, VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, 4, 4),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(attach(f, 9, &fb, &len, 1), VIRTIO_GPU_RESP_OK_NODATA);
	/* A second attach without detach is refused... */
	assert_int_equal(attach(f, 9, &fb, &len, 1), VIRTIO_GPU_RESP_ERR_UNSPEC);
	hdr_init(&d.hdr, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING);
	d.resource_id = htole32(9);
	d.padding = 0;
	assert_int_equal(gpu_cmd(f, &d, sizeof(d)), VIRTIO_GPU_RESP_OK_NODATA);
	/* ... without backing there is nothing to transfer from... */
	assert_int_equal(transfer(f, 9, 0, 0, 4, 4, 0), VIRTIO_GPU_RESP_ERR_UNSPEC);
	assert_int_equal(gpu_cmd(f, &d, sizeof(d)), VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* ... and a new attach works. */
	assert_int_equal(attach(f, 9, &fb, &len, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(transfer(f, 9, 0, 0, 4, 4, 0), VIRTIO_GPU_RESP_OK_NODATA);
	d.resource_id = htole32(1234);
	assert_int_equal(gpu_cmd(f, &d, sizeof(d)), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
}

static void test_reset_forgets_resources(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(create_2d(f, 5, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(set_scanout(f, 0, 5, 0, 0, 8, 8), VIRTIO_GPU_RESP_OK_NODATA);
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(flush(f, 5, 0, 0, 8, 8), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* The id is free again. */
	assert_int_equal(create_2d(f, 5, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
			 VIRTIO_GPU_RESP_OK_NODATA);
}

static void test_cursor_queue(void **state)
{
	struct fixture *f = *state;
	struct virtio_gpu_update_cursor c;
	struct virtio_gpu_ctrl_hdr resp;

	memset(&c, 0, sizeof(c));
	hdr_init(&c.hdr, VIRTIO_GPU_CMD_UPDATE_CURSOR);
	c.pos.x = htole32(10);
	c.resource_id = htole32(42); /* need not exist: the cursor is not drawn */
	/* Linux posts cursor requests without a response buffer. */
	assert_int_equal(gpu_cmd_q(f, CURSORQ, &c, sizeof(c), NULL, 0), 0);
	hdr_init(&c.hdr, VIRTIO_GPU_CMD_MOVE_CURSOR);
	assert_int_equal(gpu_cmd_q(f, CURSORQ, &c, sizeof(c), &resp, sizeof(resp)), sizeof(resp));
	assert_int_equal(le32toh(resp.type), VIRTIO_GPU_RESP_OK_NODATA);
	hdr_init(&c.hdr, VIRTIO_GPU_CMD_GET_DISPLAY_INFO); /* not a cursor command */
	assert_int_equal(gpu_cmd_q(f, CURSORQ, &c, sizeof(c), &resp, sizeof(resp)), sizeof(resp));
	assert_int_equal(le32toh(resp.type), VIRTIO_GPU_RESP_ERR_UNSPEC);
}

/* ---- a hostile driver ---- */

static void test_rect_outside_resource(void **state)
{
	struct fixture *f = *state;
	uint64_t fb = guest_fb(f, 16, 16);
	uint32_t len = 16 * 16 * 4;

	assert_int_equal(create_2d(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16, 16),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(attach(f, 1, &fb, &len, 1), VIRTIO_GPU_RESP_OK_NODATA);
	/* One pixel past the right edge, the bottom, both. */
	assert_int_equal(transfer(f, 1, 1, 0, 16, 16, 4), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(transfer(f, 1, 0, 16, 16, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(transfer(f, 1, 0, 0, 17, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* x + width wraps around 2^32. */
	assert_int_equal(transfer(f, 1, 0xffffffffu, 0, 2, 1, 0),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(transfer(f, 1, 0, 0xfffffff0u, 1, 0x20, 0),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(flush(f, 1, 8, 8, 9, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(flush(f, 1, 0xfffffff8u, 0, 16, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(set_scanout(f, 0, 1, 0, 0, 17, 16), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(set_scanout(f, 0, 1, 0xffffffffu, 0, 2, 2),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(set_scanout(f, 0, 1, 0, 0, 0, 16), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(set_scanout(f, 1, 1, 0, 0, 16, 16), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	assert_int_equal(set_scanout(f, 0, 2, 0, 0, 16, 16),
			 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* The backing must hold the whole span the rectangle reads. */
	assert_int_equal(transfer(f, 1, 0, 0, 16, 16, 4), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(transfer(f, 1, 0, 0, 16, 16, UINT64_MAX - 8),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(transfer(f, 1, 15, 15, 1, 1, (uint64_t)len - 4), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(transfer(f, 1, 15, 15, 1, 1, (uint64_t)len - 3),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Unknown resources. */
	assert_int_equal(transfer(f, 2, 0, 0, 1, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(flush(f, 2, 0, 0, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* Empty rectangles are harmless. */
	assert_int_equal(transfer(f, 1, 16, 16, 0, 0, 0), VIRTIO_GPU_RESP_OK_NODATA);
}

static void test_create_bad_sizes(void **state)
{
	struct fixture *f = *state;

	/* width * height * 4 overflows 32 and nearly 64 bits. */
	assert_int_equal(create_2d(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0xffffffffu, 0xffffffffu),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(create_2d(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0x40000000u, 4),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(create_2d(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0, 4),
			 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	assert_int_equal(create_2d(f, 1, 999, 4, 4), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* Within the size limits, but 1 GiB: over the host budget. */
	assert_int_equal(create_2d(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM,
				   VIRTIO_GPU_MAX_RESOURCE_DIM, VIRTIO_GPU_MAX_RESOURCE_DIM),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_int_equal(create_2d(f, 0, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4),
			 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	assert_int_equal(create_2d(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(create_2d(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 4, 4),
			 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
}

static void test_memory_cap(void **state)
{
	struct fixture *f = *state;
	/* 8192 x 8192 x 4 bytes is the whole budget. */
	const uint32_t side = 8192;

	assert_int_equal((uint64_t)side * side * 4, VIRTIO_GPU_MAX_HOST_BYTES);
	assert_int_equal(create_2d(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, side, side),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(create_2d(f, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_int_equal(unref(f, 1), VIRTIO_GPU_RESP_OK_NODATA);
	/* Freed memory is given back. */
	assert_int_equal(create_2d(f, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, side, side / 2),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(create_2d(f, 3, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, side, side / 2),
			 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(create_2d(f, 4, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	/* Backing tables count too. */
	{
		uint64_t gpa = VQH_RAM_GPA;
		uint32_t len = 4;

		assert_int_equal(attach(f, 2, &gpa, &len, 1), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	}
}

static void test_resource_count_cap(void **state)
{
	struct fixture *f = *state;

	for (uint32_t id = 1; id <= VIRTIO_GPU_MAX_RESOURCES; id++)
		assert_int_equal(create_2d(f, id, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1),
				 VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(create_2d(f, 100000, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1),
			 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	assert_int_equal(unref(f, 17), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(create_2d(f, 100000, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1),
			 VIRTIO_GPU_RESP_OK_NODATA);
	/* The others are all still there. */
	assert_int_equal(flush(f, VIRTIO_GPU_MAX_RESOURCES, 0, 0, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(flush(f, 1, 0, 0, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(flush(f, 17, 0, 0, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
}

static void test_backing_outside_ram(void **state)
{
	struct fixture *f = *state;
	uint64_t fb = guest_fb(f, 8, 8);
	uint64_t end = VQH_RAM_GPA + RAM;
	struct {
		uint64_t gpa;
		uint32_t len;
	} bad[] = {
		{ 0x1000, 4096 },		  /* below RAM */
		{ end, 4096 },			  /* just past it */
		{ end - 4095, 4096 },		  /* straddles the end */
		{ UINT64_MAX - 100, 4096 },	  /* wraps around */
		{ VQH_RAM_GPA, 0xffffffffu },	  /* longer than RAM */
	};

	assert_int_equal(create_2d(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
			 VIRTIO_GPU_RESP_OK_NODATA);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* One good entry first: the whole table is refused. */
		uint64_t gpa[2] = { fb, bad[i].gpa };
		uint32_t len[2] = { 128, bad[i].len };

		assert_int_equal(attach(f, 1, gpa, len, 2), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
		/* Nothing was attached. */
		assert_int_equal(transfer(f, 1, 0, 0, 1, 1, 0), VIRTIO_GPU_RESP_ERR_UNSPEC);
	}
	uint32_t len = 8 * 8 * 4;

	assert_int_equal(attach(f, 1, &fb, &len, 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(transfer(f, 1, 0, 0, 8, 8, 0), VIRTIO_GPU_RESP_OK_NODATA);
	/* Unknown resource. */
	assert_int_equal(attach(f, 2, &fb, &len, 1), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
}

static void test_attach_entry_counts(void **state)
{
	struct fixture *f = *state;
	struct virtio_gpu_resource_attach_backing a;
	uint32_t n = VIRTIO_GPU_MAX_BACKING_ENTRIES + 1;
	uint64_t *gpa = calloc(n, sizeof(*gpa));
	uint32_t *len = calloc(n, sizeof(*len));

	assert_non_null(gpa);
	assert_non_null(len);
	assert_int_equal(create_2d(f, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
			 VIRTIO_GPU_RESP_OK_NODATA);
	/* nr_entries promises more than the request holds. */
	hdr_init(&a.hdr, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING);
	a.resource_id = htole32(1);
	a.nr_entries = htole32(0xffffffffu);
	assert_int_equal(gpu_cmd(f, &a, sizeof(a)), VIRTIO_GPU_RESP_ERR_UNSPEC);
	a.nr_entries = 0;
	assert_int_equal(gpu_cmd(f, &a, sizeof(a)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* More entries than the limit, all of them sent. */
	for (uint32_t i = 0; i < n; i++) {
		gpa[i] = VQH_RAM_GPA;
		len[i] = 1;
	}
	assert_int_equal(attach(f, 1, gpa, len, n), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	/* Exactly the limit works, and many tiny entries transfer right. */
	assert_int_equal(attach(f, 1, gpa, len, n - 1), VIRTIO_GPU_RESP_OK_NODATA);
	assert_int_equal(transfer(f, 1, 0, 0, 8, 8, 0), VIRTIO_GPU_RESP_OK_NODATA);
	free(gpa);
	free(len);
}

static void test_unknown_command(void **state)
{
	struct fixture *f = *state;
	static const uint32_t types[] = {
		0, 0x0200 /* CTX_CREATE */, 0x0207 /* SUBMIT_3D */, VIRTIO_GPU_CMD_GET_CAPSET_INFO,
		VIRTIO_GPU_CMD_GET_CAPSET, 0x010c /* CREATE_BLOB */, 0x1100, 0xffffffffu,
		VIRTIO_GPU_CMD_UPDATE_CURSOR, /* on the wrong queue */
	};
	uint8_t req[64];

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memset(req, 0, sizeof(req));
		hdr_init((void *)req, types[i]);
		assert_int_equal(gpu_cmd(f, req, sizeof(req)), VIRTIO_GPU_RESP_ERR_UNSPEC);
	}
}

static void test_short_requests(void **state)
{
	struct fixture *f = *state;
	struct virtio_gpu_resource_create_2d c;
	struct virtio_gpu_ctrl_hdr resp;
	uint32_t id, len;
	uint16_t head;

	/* Shorter than the header. */
	hdr_init(&c.hdr, VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	assert_int_equal(gpu_cmd(f, &c, 10), VIRTIO_GPU_RESP_ERR_UNSPEC);
	/* A header but not the command's fields: nothing is created. */
	hdr_init(&c.hdr, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);
	c.resource_id = htole32(1);
	c.format = htole32(VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
	c.width = c.height = htole32(4);
	assert_int_equal(gpu_cmd(f, &c, sizeof(c) - 1), VIRTIO_GPU_RESP_ERR_UNSPEC);
	assert_int_equal(flush(f, 1, 0, 0, 1, 1), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* A response buffer too small for the answer: what fits. */
	hdr_init(&c.hdr, VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	assert_int_equal(gpu_cmd_q(f, CTRLQ, &c.hdr, sizeof(c.hdr), &resp, 8), 8);
	assert_int_equal(le32toh(resp.type), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	/* No response buffer at all: the command still completes. */
	hdr_init(&c.hdr, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);
	assert_int_equal(gpu_cmd_q(f, CTRLQ, &c, sizeof(c), NULL, 0), 0);
	assert_int_equal(flush(f, 1, 0, 0, 1, 1), VIRTIO_GPU_RESP_OK_NODATA);
	/* A descriptor outside RAM: the chain is returned, the queue goes on. */
	{
		struct vqh_buf bad = { 0x10, 64, false };

		head = vqh_post(&f->h, f->dev, CTRLQ, &bad, 1);
		vqh_kick(&f->h, f->dev, CTRLQ);
		assert_true(vqh_used(&f->h, f->dev, CTRLQ, &id, &len));
		assert_int_equal(id, head);
		assert_int_equal(len, 0);
	}
	check_display_info(f, 1280, 720);
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* A fenced request cut short after its header still gets its fence back
 * with the error: the driver waits for that fence (found by fuzz_virtio_gpu,
 * the handlers answered a short command without its header). */
static void test_short_request_keeps_fence(void **state)
{
	struct fixture *f = *state;
	struct virtio_gpu_resource_create_2d c;
	struct virtio_gpu_update_cursor cur;
	struct virtio_gpu_ctrl_hdr resp;

	hdr_init(&c.hdr, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D);
	c.hdr.flags = htole32(VIRTIO_GPU_FLAG_FENCE);
	c.hdr.fence_id = htole64(4242);
	c.resource_id = htole32(1);
	c.format = htole32(VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
	c.width = c.height = htole32(4);
	assert_int_equal(gpu_cmd_q(f, CTRLQ, &c, sizeof(c) - 1, &resp, sizeof(resp)), sizeof(resp));
	assert_int_equal(le32toh(resp.type), VIRTIO_GPU_RESP_ERR_UNSPEC);
	assert_int_equal(le32toh(resp.flags) & VIRTIO_GPU_FLAG_FENCE, VIRTIO_GPU_FLAG_FENCE);
	assert_int_equal(le64toh(resp.fence_id), 4242);
	/* Just the header of a transfer. */
	c.hdr.type = htole32(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D);
	c.hdr.fence_id = htole64(4243);
	assert_int_equal(gpu_cmd_q(f, CTRLQ, &c, sizeof(c.hdr), &resp, sizeof(resp)), sizeof(resp));
	assert_int_equal(le32toh(resp.type), VIRTIO_GPU_RESP_ERR_UNSPEC);
	assert_int_equal(le64toh(resp.fence_id), 4243);
	/* The cursor queue answers the same way when given a buffer. */
	memset(&cur, 0, sizeof(cur));
	hdr_init(&cur.hdr, VIRTIO_GPU_CMD_UPDATE_CURSOR);
	cur.hdr.flags = htole32(VIRTIO_GPU_FLAG_FENCE);
	cur.hdr.fence_id = htole64(4244);
	assert_int_equal(gpu_cmd_q(f, CURSORQ, &cur, sizeof(cur) - 4, &resp, sizeof(resp)),
			 sizeof(resp));
	assert_int_equal(le32toh(resp.type), VIRTIO_GPU_RESP_ERR_UNSPEC);
	assert_int_equal(le64toh(resp.fence_id), 4244);
	/* Shorter than a header: nothing to echo. */
	assert_int_equal(gpu_cmd_q(f, CTRLQ, &c, 10, &resp, sizeof(resp)), sizeof(resp));
	assert_int_equal(le32toh(resp.flags), 0);
}

static void test_work_per_wakeup_bounded(void **state)
{
	struct fixture *f = *state;
	unsigned int total = VIRTIO_GPU_BUDGET + 10, n = 0;
	uint32_t id, len;
	struct pollfd pfd;

	for (unsigned int i = 0; i < total; i++) {
		struct virtio_gpu_ctrl_hdr req;
		uint64_t in = vqh_alloc(&f->h, sizeof(req)), out = vqh_alloc(&f->h, 24);
		struct vqh_buf b[2] = { { in, sizeof(req), false }, { out, 24, true } };

		hdr_init(&req, VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
		memcpy(vqh_hva(&f->h, in), &req, sizeof(req));
		vqh_post(&f->h, f->dev, CTRLQ, b, 2);
	}
	vqh_kick(&f->h, f->dev, CTRLQ);
	while (vqh_used(&f->h, f->dev, CTRLQ, &id, &len))
		n++;
	assert_int_equal(n, VIRTIO_GPU_BUDGET);
	assert_true(f->resched_fd >= 0);
	pfd = (struct pollfd){ .fd = f->resched_fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 1);
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, f->resched_fd, EPOLLIN);
	pthread_mutex_unlock(&f->dev->lock);
	while (vqh_used(&f->h, f->dev, CTRLQ, &id, &len))
		n++;
	assert_int_equal(n, total);
	assert_int_equal(poll(&pfd, 1, 0), 0);
}

static void test_broken_ring_needs_reset(void **state)
{
	struct fixture *f = *state;
	uint16_t *avail = vqh_hva(&f->h, f->dev->vqs[CTRLQ].avail_gpa);

	avail[1] = QSIZE + 5;
	vqh_kick(&f->h, f->dev, CTRLQ);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* ---- host side: screenshot errors, the API command, the CLI ---- */

static void test_screenshot_errors(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev *rng;
	char path[128];

	assert_int_equal(virtio_gpu_screenshot_png(f->dev, "/nonexistent-dir/x.png"), -ENOENT);
	assert_int_equal(virtio_gpu_screenshot_png(f->dev, ""), -EINVAL);
	assert_int_equal(virtio_rng_create(&rng), 0);
	snprintf(path, sizeof(path), "%s/rng.png", f->dir);
	assert_int_equal(virtio_gpu_screenshot_png(rng, path), -EINVAL);
	rng->ops->destroy(rng);
	assert_int_equal(access(path, F_OK), -1);
	/* No temporary file is left behind either. */
	snprintf(path, sizeof(path), "ls -A '%s' | grep -q .", f->dir);
	assert_int_not_equal(system(path), 0);
}

static void test_api_command(void **state)
{
	struct fixture *f = *state;
	struct json_object *args = json_object_new_object(), *reply = json_object_new_object();
	struct json_object *v;
	char path[128];

	/* No path, a relative path: refused with a reason. */
	assert_int_equal(virtio_gpu_api_screenshot(f->dev, NULL, reply), -EINVAL);
	assert_true(json_object_object_get_ex(reply, "error", &v));
	json_object_object_add(args, "path", json_object_new_string("out.png"));
	assert_int_equal(virtio_gpu_api_screenshot(f->dev, args, reply), -EINVAL);
	assert_non_null(strstr(json_object_to_json_string(reply), "absolute"));
	json_object_object_add(args, "path", json_object_new_int(3));
	assert_int_equal(virtio_gpu_api_screenshot(f->dev, args, reply), -EINVAL);
	json_object_put(reply);

	reply = json_object_new_object();
	snprintf(path, sizeof(path), "%s/api.png", f->dir);
	json_object_object_add(args, "path", json_object_new_string(path));
	assert_int_equal(virtio_gpu_api_screenshot(f->dev, args, reply), 0);
	assert_true(json_object_object_get_ex(reply, "width", &v));
	assert_int_equal(json_object_get_int(v), 800);
	assert_true(json_object_object_get_ex(reply, "height", &v));
	assert_int_equal(json_object_get_int(v), 600);
	assert_false(json_object_object_get_ex(reply, "error", &v));
	json_object_put(reply);
	json_object_put(args);
	{
		struct image img;

		read_png(path, &img);
		assert_int_equal(img.w, 800);
		assert_int_equal(img.h, 600);
		free(img.rgb);
	}
}

/* A one-shot control socket: accepts one client, reads its line, and
 * answers through the device's command (or with a canned reply). */
struct fake_server {
	int listen_fd;
	struct virtio_dev *dev;
	const char *canned; /* reply line, or NULL to run the command */
	char request[1024];
	pthread_t thread;
};

static void *serve_one(void *arg)
{
	struct fake_server *s = arg;
	int fd = accept(s->listen_fd, NULL, NULL);
	size_t have = 0;

	if (fd < 0)
		return NULL;
	while (have < sizeof(s->request) - 1 && !memchr(s->request, '\n', have)) {
		ssize_t n = read(fd, s->request + have, sizeof(s->request) - 1 - have);

		if (n <= 0)
			break;
		have += (size_t)n;
	}
	s->request[have] = 0;
	if (s->canned) {
		if (write(fd, s->canned, strlen(s->canned)) < 0)
			perror("write");
	} else {
		struct json_object *req = json_tokener_parse(s->request), *args = NULL;
		struct json_object *reply = json_object_new_object();
		int ret;
		const char *text;

		json_object_object_get_ex(req, "args", &args);
		ret = virtio_gpu_api_screenshot(s->dev, args, reply);
		json_object_object_add(reply, "ok", json_object_new_boolean(ret == 0));
		text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
		if (write(fd, text, strlen(text)) < 0 || write(fd, "\n", 1) < 0)
			perror("write");
		json_object_put(reply);
		json_object_put(req);
	}
	close(fd);
	return NULL;
}

static void server_start(struct fake_server *s, const char *sock, struct virtio_dev *dev,
			 const char *canned)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	memset(s, 0, sizeof(*s));
	s->dev = dev;
	s->canned = canned;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->listen_fd >= 0);
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(s->listen_fd, 1), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, serve_one, s), 0);
}

static void server_stop(struct fake_server *s, const char *sock)
{
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
	unlink(sock);
}

static int run_cli(char *a0, char *a1, char *a2, char *a3)
{
	char *argv[] = { a0, a1, a2, a3, NULL };
	int argc = 0;

	while (argv[argc])
		argc++;
	return cli_screenshot(argc, argv);
}

static void test_cli_screenshot(void **state)
{
	struct fixture *f = *state;
	struct fake_server s;
	char sock[128], out[128], rel[128], cwd[256];
	struct image img;
	struct json_object *req, *v, *args;

	snprintf(sock, sizeof(sock), "%s/api.sock", f->dir);
	snprintf(out, sizeof(out), "%s/cli.png", f->dir);

	/* Through a control socket to the device: the file appears. */
	server_start(&s, sock, f->dev, NULL);
	assert_int_equal(run_cli("screenshot", "--api-sock", sock, out), 0);
	server_stop(&s, sock);
	req = json_tokener_parse(s.request);
	assert_non_null(req);
	assert_non_null(strchr(s.request, '\n'));
	assert_true(json_object_object_get_ex(req, "cmd", &v));
	assert_string_equal(json_object_get_string(v), "screenshot");
	assert_true(json_object_object_get_ex(req, "args", &args));
	assert_true(json_object_object_get_ex(args, "path", &v));
	assert_string_equal(json_object_get_string(v), out);
	json_object_put(req);
	read_png(out, &img);
	assert_int_equal(img.w, 1280);
	free(img.rgb);

	/* A relative name is sent as an absolute one. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	snprintf(rel, sizeof(rel), "rel.png");
	server_start(&s, sock, f->dev, NULL);
	assert_int_equal(run_cli("screenshot", "--api-sock", sock, rel), 0);
	server_stop(&s, sock);
	assert_int_equal(chdir(cwd), 0);
	snprintf(out, sizeof(out), "%s/rel.png", f->dir);
	assert_int_equal(access(out, R_OK), 0);

	/* The VM says no. */
	server_start(&s, sock, f->dev, "{\"ok\":false,\"error\":\"no display\"}\n");
	assert_int_equal(run_cli("screenshot", "--api-sock", sock, out), 2);
	server_stop(&s, sock);
	/* Nothing listens. */
	assert_int_equal(run_cli("screenshot", "--api-sock", sock, out), 4);
	/* Bad arguments. */
	assert_int_equal(run_cli("screenshot", out, NULL, NULL), 1);
	assert_int_equal(run_cli("screenshot", "--api-sock", sock, NULL), 1);
	assert_int_equal(run_cli("screenshot", "--bogus", sock, out), 1);
	assert_int_equal(run_cli("screenshot", "--help", NULL, NULL), 0);
}

/* ---- --gpu ---- */

static void test_parse_opt(void **state)
{
	struct avp_config cfg;
	struct avp_config_err e;
	const struct avp_gpu_cfg *c;
	char *argv[] = { "avp", "run", "--kernel", "k", "--gpu", "width=1024", NULL };
	static const struct {
		const char *text;
		uint32_t w, h;
	} good[] = {
		{ "on", 1280, 720 },
		{ "width=1920,height=1080", 1920, 1080 },
		{ "height=1920,width=1080", 1080, 1920 },
		{ "height=600", 1280, 600 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		avp_config_init(&cfg);
		c = test_add_device(&cfg, &virtio_gpu_config, good[i].text);
		assert_int_equal(c->width, good[i].w);
		assert_int_equal(c->height, good[i].h);
		avp_config_free(&cfg);
	}
	static const char *bad[] = {
		"", "off", "width=", "width=31", "width=4096", "width=-5", "width=+5", "width=12x",
		"width=800,width=800", "depth=3", "width=4000,height=4000", "width=800,",
		"width=99999999999999999999", "on,width=800",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		avp_config_init(&cfg);
		if (test_try_device(&cfg, &virtio_gpu_config, bad[i], &e) == 0)
			fail_msg("--gpu '%s' was accepted", bad[i]);
		assert_int_equal(cfg.ndevices, 0);
		avp_config_free(&cfg);
	}
	/* Through the command line. */
	avp_config_init(&cfg);
	assert_int_equal(cli_parse(6, argv, &cfg, stderr), CLI_RUN);
	c = avp_config_device(&cfg, &virtio_gpu_config, 0);
	assert_non_null(c);
	assert_int_equal(c->width, 1024);
	assert_int_equal(c->height, 720);
	avp_config_free(&cfg);
	/* The device refuses a size the parser would have refused. */
	{
		struct virtio_dev *dev;
		struct avp_gpu_cfg big = { .width = 4095, .height = 4095 };

		assert_int_equal(virtio_gpu_create(&dev, &big), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_clear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_display_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_display_info_configured, setup_800x600, teardown),
		cmocka_unit_test_setup_teardown(test_edid, setup_800x600, teardown),
		cmocka_unit_test(test_edid_sizes),
		cmocka_unit_test_setup_teardown(test_fence_echoed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_black_without_scanout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quadrants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_transfer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_formats_and_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unref_scanout_goes_black, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detach_backing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_forgets_resources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rect_outside_resource, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_bad_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resource_count_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backing_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_entry_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_request_keeps_fence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_work_per_wakeup_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_screenshot_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_command, setup_800x600, teardown),
		cmocka_unit_test_setup_teardown(test_cli_screenshot, setup, teardown),
		cmocka_unit_test(test_parse_opt),
	};

	return cmocka_run_group_tests_name("virtio_gpu", tests, NULL, NULL);
}
