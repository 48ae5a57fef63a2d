/* libFuzzer target: virtio-gpu 2D (src/devices/virtio_gpu.c and
 * gpu_resource.c): every control command and the cursor queue, with
 * hostile resource ids, sizes, formats, backing tables and rectangles,
 * plus the host's screenshot of whatever the guest put on the scanout.
 *
 * Input: u8 mode (bit 0: a display size follows, two u16; bit 1: large
 * resources, see below), then the
 * common grammar of the hostile pretend driver (fuzz_guest.h), whose
 * device op's sub-ops are:
 *
 *   0 command   one controlq request, built from the input: the command
 *               type (mostly a real one), the header's fence flags, then
 *               the command's fields with resource ids mostly 0-5, sizes
 *               mostly small but sometimes huge or raw, formats mostly
 *               known; ATTACH_BACKING carries up to 255 entries (in RAM,
 *               repeated, across the hole, or anywhere) and claims any
 *               nr_entries; the request may be cut short, split in two
 *               buffers, and the response buffer may be too small; kicked
 *               at once or left for a later kick (batches past the
 *               per-wakeup budget)
 *   1 cursor    an UPDATE_CURSOR / MOVE_CURSOR (or junk) on the cursorq,
 *               with or without a response buffer
 *   2 shot      the control socket's screenshot, when the scanout is small
 *
 * Beyond the sanitizers: a request that was alone in the queue and had
 * room for a response header gets exactly one response, of a type the
 * specification defines, echoing the fence when asked; a screenshot
 * succeeds and has the size of the scanout (or of the display when none
 * is set). */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avp/devices/virtio_gpu.h"
#include "avp/log.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define HDR_LEN sizeof(struct virtio_gpu_ctrl_hdr)
#define MAX_REQ 4096
#define BIG_PIXELS (1u << 16)

struct gpu_ctx {
	/* ASan poisons the shadow of every big allocation and free, so a
	 * resource costs time in proportion to its size: only inputs with
	 * mode bit 1 create resources above BIG_PIXELS (256 KiB), up to the
	 * host budget, which the fuzz build lowers to 8 MiB (Makefile,
	 * FUZZ_LIMITS) so that even those stay within a millisecond. */
	bool big;
	/* The scanout as far as we know it, for the screenshot: unknown
	 * once a request we did not see served (the common grammar's raw
	 * chains, one not alone in the queue) may have changed it. */
	bool scanout_unknown;
	uint16_t ctrl_avail; /* avail index after our last post */
	uint32_t scanout_w, scanout_h;
	uint32_t display_w, display_h;
	uint8_t req[MAX_REQ];
};

static char dir[64];
static char shot[128];

static void cleanup(void)
{
	unlink(shot);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	fuzz_tmpdir(dir, sizeof(dir), "gpu");
	snprintf(shot, sizeof(shot), "%s/shot.png", dir);
	atexit(cleanup);
	return 0;
}

static uint32_t res_id(struct fz *z)
{
	uint8_t b = fz_u8(z);

	return b & 0x80 ? fz_u32(z) : b % 6;
}

/* Width or height of a resource: mostly small, sometimes at the limits. */
static uint32_t dim(struct fz *z)
{
	static const uint32_t big[] = { 0, 1, 4095, 4096, 8192, 16384, 16385, 0xffffffffu };
	uint8_t b = fz_u8(z);

	if ((b & 0xf0) == 0xf0)
		return big[b & 7];
	if ((b & 0xf0) == 0xe0)
		return fz_u32(z);
	return 1u + (b & 0x7f);
}

static void rect(struct fz *z, struct virtio_gpu_rect *r)
{
	uint8_t b = fz_u8(z);

	if (b & 0x80) {
		r->x = fz_u32(z);
		r->y = fz_u32(z);
		r->width = fz_u32(z);
		r->height = fz_u32(z);
	} else {
		r->x = fz_u8(z) % 64;
		r->y = fz_u8(z) % 64;
		r->width = dim(z);
		r->height = dim(z);
	}
	r->x = htole32(r->x);
	r->y = htole32(r->y);
	r->width = htole32(r->width);
	r->height = htole32(r->height);
}

static bool response_type_ok(uint32_t t)
{
	return (t >= VIRTIO_GPU_RESP_OK_NODATA && t <= VIRTIO_GPU_RESP_OK_EDID) ||
	       (t >= VIRTIO_GPU_RESP_ERR_UNSPEC && t <= VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
}

/* Builds the command's body after the header into c->req; returns its
 * whole length. */
static size_t build_body(struct gpu_ctx *c, struct fuzz_guest *g, struct fz *z, uint32_t type)
{
	switch (type) {
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: {
		static const uint32_t formats[] = { 1, 2, 3, 4, 67, 68, 121, 134 };
		struct virtio_gpu_resource_create_2d *cmd = (void *)c->req;
		uint8_t f = fz_u8(z);

		uint32_t w, h;

		cmd->resource_id = htole32(res_id(z));
		cmd->format = htole32(f & 0x80 ? fz_u32(z) : formats[f & 7]);
		w = dim(z);
		h = dim(z);
		if (!c->big && w <= VIRTIO_GPU_MAX_RESOURCE_DIM && h <= VIRTIO_GPU_MAX_RESOURCE_DIM &&
		    (uint64_t)w * h > BIG_PIXELS)
			h = BIG_PIXELS / w;
		cmd->width = htole32(w);
		cmd->height = htole32(h);
		return sizeof(*cmd);
	}
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: {
		struct virtio_gpu_resource_unref *cmd = (void *)c->req;

		cmd->resource_id = htole32(res_id(z));
		return sizeof(*cmd);
	}
	case VIRTIO_GPU_CMD_SET_SCANOUT: {
		struct virtio_gpu_set_scanout *cmd = (void *)c->req;
		uint8_t b = fz_u8(z);

		rect(z, &cmd->r);
		cmd->scanout_id = htole32(b & 0x80 ? fz_u32(z) : 0);
		cmd->resource_id = htole32(res_id(z));
		return sizeof(*cmd);
	}
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH: {
		struct virtio_gpu_resource_flush *cmd = (void *)c->req;

		rect(z, &cmd->r);
		cmd->resource_id = htole32(res_id(z));
		return sizeof(*cmd);
	}
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: {
		struct virtio_gpu_transfer_to_host_2d *cmd = (void *)c->req;
		uint8_t b;

		rect(z, &cmd->r);
		b = fz_u8(z);
		cmd->offset = htole64(b & 0x80 ? fz_u64(z) : (uint64_t)fz_u16(z));
		cmd->resource_id = htole32(res_id(z));
		return sizeof(*cmd);
	}
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: {
		struct virtio_gpu_resource_attach_backing *cmd = (void *)c->req;
		struct virtio_gpu_mem_entry *e = (void *)(c->req + sizeof(*cmd));
		unsigned int n = fz_u8(z);
		uint8_t how = fz_u8(z);
		size_t max = (MAX_REQ - sizeof(*cmd)) / sizeof(*e);

		if (n > max)
			n = (unsigned int)max;
		cmd->resource_id = htole32(res_id(z));
		/* Mostly what the request carries; sometimes any claim. */
		cmd->nr_entries = htole32(how & 0x80 ? fz_u32(z) : n);
		for (unsigned int i = 0; i < n; i++) {
			uint8_t k = fz_u8(z);
			uint64_t addr;
			uint32_t len;

			if (i && (k & 0xc0) == 0xc0) { /* the previous one again */
				e[i] = e[i - 1];
				continue;
			}
			if (k & 0x80) {
				addr = fz_u64(z);
				len = fz_u32(z);
			} else if (k & 0x40) { /* the second region, maybe past it */
				addr = FG_RAM2_GPA + fz_u16(z) % (FG_RAM2_SIZE + 64);
				len = fz_u16(z) % (2 * FG_RAM2_SIZE);
			} else { /* pages of the data area */
				addr = fg_gpa(g->data_off + (fz_u8(z) * 4096u) % (FG_RAM_SIZE - g->data_off));
				len = k & 0x20 ? fz_u16(z) : 4096;
			}
			e[i] = (struct virtio_gpu_mem_entry){ htole64(addr), htole32(len), 0 };
		}
		return sizeof(*cmd) + n * sizeof(*e);
	}
	case VIRTIO_GPU_CMD_GET_EDID: {
		struct virtio_gpu_get_edid *cmd = (void *)c->req;
		uint8_t b = fz_u8(z);

		cmd->scanout = htole32(b & 0x80 ? fz_u32(z) : b & 1);
		return sizeof(*cmd);
	}
	default: /* DISPLAY_INFO, capsets and unknown types: the header only */
		return HDR_LEN + (fz_u8(z) & 31);
	}
}

static void ctrl_op(struct gpu_ctx *c, struct fuzz_guest *g, struct fz *z, uint16_t q)
{
	static const uint32_t types[] = {
		VIRTIO_GPU_CMD_GET_DISPLAY_INFO,      VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
		VIRTIO_GPU_CMD_RESOURCE_UNREF,	      VIRTIO_GPU_CMD_SET_SCANOUT,
		VIRTIO_GPU_CMD_RESOURCE_FLUSH,	      VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
		VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
		VIRTIO_GPU_CMD_GET_CAPSET_INFO,	      VIRTIO_GPU_CMD_GET_EDID,
		VIRTIO_GPU_CMD_UPDATE_CURSOR,	      VIRTIO_GPU_CMD_MOVE_CURSOR,
		VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,    VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
		VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, VIRTIO_GPU_CMD_SET_SCANOUT,
	};
	const struct virtq *vq = &g->dev->vqs[q];
	struct virtio_gpu_ctrl_hdr *hdr = (void *)c->req;
	uint8_t sel = fz_u8(z);
	uint8_t shape = fz_u8(z);
	uint32_t type = sel & 0x80 ? fz_u32(z) : types[sel & 15];
	size_t len, resp_len;
	uint32_t off, roff;
	struct fg_seg segs[3];
	unsigned int n = 0;
	bool alone = vq->ready && vq->last_avail_idx == g->avail_idx[q];
	uint16_t before = vq->used_idx;

	memset(c->req, 0, sizeof(c->req));
	if (q == VIRTIO_GPU_CURSORQ && !(sel & 0x80))
		type = sel & 1 ? VIRTIO_GPU_CMD_MOVE_CURSOR : VIRTIO_GPU_CMD_UPDATE_CURSOR;
	hdr->type = htole32(type);
	hdr->flags = htole32(shape & 3); /* FENCE, INFO_RING_IDX */
	hdr->fence_id = htole64(0x1000u + sel);
	hdr->ctx_id = htole32(shape >> 4);
	hdr->ring_idx = shape;
	if (q == VIRTIO_GPU_CURSORQ) {
		struct virtio_gpu_update_cursor *cmd = (void *)c->req;

		cmd->pos.scanout_id = htole32(fz_u8(z) % 2);
		cmd->pos.x = htole32(fz_u16(z));
		cmd->pos.y = htole32(fz_u16(z));
		cmd->resource_id = htole32(res_id(z));
		cmd->hot_x = htole32(fz_u8(z));
		cmd->hot_y = htole32(fz_u8(z));
		len = sizeof(*cmd);
	} else {
		len = build_body(c, g, z, type);
	}
	/* Cut short: the device must notice before reading past it. */
	if (shape & 0x04)
		len = fz_u16(z) % (len + 1);
	off = fg_alloc(g, (uint32_t)len);
	memcpy(g->ram + off, c->req, len);
	if ((shape & 0x08) && len > HDR_LEN) { /* header and body apart */
		segs[n++] = (struct fg_seg){ fg_gpa(off), HDR_LEN, false };
		segs[n++] = (struct fg_seg){ fg_gpa(off) + HDR_LEN, (uint32_t)(len - HDR_LEN), false };
	} else {
		segs[n++] = (struct fg_seg){ fg_gpa(off), (uint32_t)len, false };
	}
	/* Room for the largest response (EDID), or a stingy buffer; the
	 * cursorq mostly gets none, as Linux posts them. */
	if (q == VIRTIO_GPU_CURSORQ && !(shape & 0x40))
		resp_len = 0;
	else
		resp_len = shape & 0x20 ? fz_u8(z) % 64 : sizeof(struct virtio_gpu_resp_edid);
	roff = fg_alloc(g, (uint32_t)resp_len);
	if (resp_len)
		segs[n++] = (struct fg_seg){ fg_gpa(roff), (uint32_t)resp_len, true };
	if (q == VIRTIO_GPU_CTRLQ && g->avail_idx[q] != c->ctrl_avail)
		c->scanout_unknown = true; /* somebody else posted */
	fg_post(g, q, segs, n, shape & 0x10, fg_alloc(g, 16 * FG_MAX_SEGS));
	if (q == VIRTIO_GPU_CTRLQ)
		c->ctrl_avail = g->avail_idx[q];
	alone = alone && n <= g->qsize && (!(shape & 0x10) || vq->indirect);
	if (shape & 0x80) { /* left for a later kick: a batch */
		if (q == VIRTIO_GPU_CTRLQ)
			c->scanout_unknown = true;
		return;
	}
	fg_kick(g, q);
	if (!alone || !vq->ready || resp_len < HDR_LEN || vq->used_idx == before) {
		if (q == VIRTIO_GPU_CTRLQ)
			c->scanout_unknown = true;
		return;
	}
	/* Served at once, whole, and answered in the response buffer. */
	FUZZ_CHECK(vq->used_idx == (uint16_t)(before + 1));
	{
		const struct virtio_gpu_ctrl_hdr *r = (const void *)(g->ram + roff);

		FUZZ_CHECK(response_type_ok(le32toh(r->type)));
		if ((shape & 1) && len >= HDR_LEN) {
			FUZZ_CHECK(le32toh(r->flags) & VIRTIO_GPU_FLAG_FENCE);
			FUZZ_CHECK(le64toh(r->fence_id) == 0x1000u + sel);
		}
		/* Everything before was served: a scanout we now set is known. */
		if (q == VIRTIO_GPU_CTRLQ && type == VIRTIO_GPU_CMD_SET_SCANOUT &&
		    le32toh(r->type) == VIRTIO_GPU_RESP_OK_NODATA &&
		    len >= sizeof(struct virtio_gpu_set_scanout)) {
			const struct virtio_gpu_set_scanout *cmd = (const void *)c->req;

			c->scanout_unknown = false;
			c->scanout_w = cmd->resource_id ? le32toh(cmd->r.width) : 0;
			c->scanout_h = cmd->resource_id ? le32toh(cmd->r.height) : 0;
		}
	}
}

static void shot_op(struct gpu_ctx *c, struct fuzz_guest *g)
{
	uint32_t w = 0, h = 0;
	int ret;

	/* PNG encoding is slow: only small pictures, so only when we know
	 * what the scanout is. It shows the scanout's rectangle, or the
	 * display's size once the guest has dropped the resource (or reset
	 * the device). */
	if (c->scanout_unknown || g->avail_idx[VIRTIO_GPU_CTRLQ] != c->ctrl_avail ||
	    (uint64_t)c->scanout_w * c->scanout_h > 128 * 128 ||
	    (uint64_t)c->display_w * c->display_h > 128 * 128)
		return;
	ret = virtio_gpu_screenshot(g->dev, shot, &w, &h);
	FUZZ_CHECK(ret == 0);
	FUZZ_CHECK((w == c->scanout_w && h == c->scanout_h) ||
		   (w == c->display_w && h == c->display_h));
}

static void gpu_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	struct gpu_ctx *c = opaque;

	switch (fz_u8(z) % 4) {
	case 0:
	case 1:
		ctrl_op(c, g, z, VIRTIO_GPU_CTRLQ);
		break;
	case 2:
		ctrl_op(c, g, z, VIRTIO_GPU_CURSORQ);
		break;
	case 3:
		shot_op(c, g);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { 29 /* EVENT_IDX */, 28 /* INDIRECT_DESC */,
					   VIRTIO_GPU_F_EDID };
	struct fz z = { data, size };
	uint8_t mode = fz_u8(&z);
	struct avp_gpu_cfg cfg = { 0 };
	struct gpu_ctx *c = calloc(1, sizeof(*c));
	struct fuzz_guest g;
	struct virtio_dev *dev;

	if (!c)
		return 0;
	c->big = mode & 2;
	if (mode & 1) {
		cfg.width = fz_u16(&z);
		cfg.height = fz_u16(&z);
	}
	c->display_w = cfg.width ? cfg.width : VIRTIO_GPU_DEFAULT_WIDTH;
	c->display_h = cfg.height ? cfg.height : VIRTIO_GPU_DEFAULT_HEIGHT;
	if (virtio_gpu_create(&dev, &cfg) == 0) {
		if (fg_init(&g) == 0) {
			fg_run(&g, dev, &z, wanted, 3, gpu_op, c);
			fg_reset(&g);
		}
		dev->ops->destroy(dev);
		fg_fini(&g);
	}
	free(c);
	return 0;
}
