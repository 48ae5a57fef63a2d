/* virtio-gpu in 2D mode (VIRTIO 1.2, section 5.7; AVP-GPU-1, AVP-GPU-2):
 * one scanout of the configured size, controlq and cursorq, EDID.
 *
 * The guest creates host resources, attaches guest pages as their backing
 * (5.7.6.1), copies rectangles into them with TRANSFER_TO_HOST_2D and
 * shows one on the scanout (5.7.6.2). The host sees the scanout through
 * virtio_gpu_screenshot() (a PNG), called from the control socket.
 *
 * Every command is finished before its response is returned, which is
 * what a fenced command needs (5.7.6.5, 5.7.6.7): the fence flag and id
 * are echoed in every response. Resource handling (budget, backing,
 * transfers) is in gpu_resource.c; the limits are in virtio_gpu.h. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <json-c/json.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_gpu.h"
#include "avp/le.h"
#include "avp/log.h"
#include "avp/vm.h"
#include "devices/gpu_resource.h"

struct gpu_scanout {
	uint32_t resource_id; /* 0: disabled */
	struct virtio_gpu_rect r;
	uint64_t flushes; /* RESOURCE_FLUSHes that touched it */
};

struct gpu_cursor {
	uint32_t resource_id;
	uint32_t x, y, hot_x, hot_y;
};

struct vgpu {
	struct virtio_dev dev;
	struct virtio_gpu_config config;
	uint32_t width, height; /* the display offered on scanout 0 */
	uint8_t edid[VIRTIO_GPU_EDID_SIZE];
	struct gpu_resources res;
	struct gpu_scanout scanout;
	struct gpu_cursor cursor;
	struct dev_resched resched;
	uint32_t pending_queues; /* bit per queue left with work (budget) */
	struct virtq_chain chain;
};

static const struct virtio_dev_ops vgpu_ops;

static struct vgpu *vgpu_of(struct virtio_dev *dev)
{
	return dev->priv;
}

static uint64_t vgpu_features(struct virtio_dev *dev)
{
	(void)dev;
	return 1ull << VIRTIO_GPU_F_EDID;
}

/* events_clear is write-1-to-clear on events_read (5.7.4.1); the other
 * fields are read-only. The transport checked the range. */
static void vgpu_config_write(struct virtio_dev *dev, uint32_t offset, const void *data, uint32_t len)
{
	struct vgpu *g = vgpu_of(dev);
	const uint8_t *bytes = data;
	uint32_t clear = 0;
	const uint32_t lo = offsetof(struct virtio_gpu_config, events_clear);

	for (uint32_t i = 0; i < len; i++) {
		uint32_t pos = offset + i;

		if (pos >= lo && pos < lo + 4)
			clear |= (uint32_t)bytes[i] << (8 * (pos - lo));
	}
	g->config.events_read = htole32(le32toh(g->config.events_read) & ~clear);
}

/* ---- EDID ---- */

/* Detailed timing descriptor (EDID 1.4, 3.10.2) for width x height at
 * 60 Hz with reduced-blanking-like porches. The caller keeps both sizes
 * within 12 bits and their product within VIRTIO_GPU_MAX_DISPLAY_PIXELS,
 * so the pixel clock fits its 16-bit field. */
static void edid_timing(uint8_t *d, uint32_t w, uint32_t h, uint32_t w_mm, uint32_t h_mm)
{
	const uint32_t hblank = 160, hfront = 48, hsync = 32;
	const uint32_t vfront = 3, vsync = 5;
	uint32_t vblank = h / 36 > 23 ? h / 36 : 23;
	uint64_t clock_10khz = ((uint64_t)(w + hblank) * (h + vblank) * 60 + 9999) / 10000;

	if (clock_10khz > 0xffff)
		clock_10khz = 0xffff;
	put_le16(d, (uint16_t)clock_10khz);
	d[2] = (uint8_t)w;
	d[3] = (uint8_t)hblank;
	d[4] = (uint8_t)(((w >> 8) & 0xf) << 4 | ((hblank >> 8) & 0xf));
	d[5] = (uint8_t)h;
	d[6] = (uint8_t)vblank;
	d[7] = (uint8_t)(((h >> 8) & 0xf) << 4 | ((vblank >> 8) & 0xf));
	d[8] = (uint8_t)hfront;
	d[9] = (uint8_t)hsync;
	d[10] = (uint8_t)((vfront & 0xf) << 4 | (vsync & 0xf));
	d[11] = (uint8_t)(((hfront >> 8) & 3) << 6 | ((hsync >> 8) & 3) << 4 |
			  ((vfront >> 4) & 3) << 2 | ((vsync >> 4) & 3));
	d[12] = (uint8_t)w_mm;
	d[13] = (uint8_t)h_mm;
	d[14] = (uint8_t)(((w_mm >> 8) & 0xf) << 4 | ((h_mm >> 8) & 0xf));
	d[15] = 0; /* no borders */
	d[16] = 0;
	d[17] = 0x1e; /* digital separate sync, +hsync +vsync, not interlaced */
}

/* Display descriptor (EDID 1.4, 3.10.3) with a text payload. */
static void edid_text(uint8_t *d, uint8_t tag, const char *text)
{
	size_t n = strlen(text);

	memset(d, 0, 18);
	d[3] = tag;
	/* 13 bytes: the text, a line feed, then spaces. */
	memset(d + 5, ' ', 13);
	memcpy(d + 5, text, n < 12 ? n : 12);
	d[5 + (n < 12 ? n : 12)] = '\n';
}

void virtio_gpu_make_edid(uint8_t edid[VIRTIO_GPU_EDID_SIZE], uint32_t width, uint32_t height)
{
	/* sRGB primaries and D65 white as 10-bit CIE fractions (x, y) of
	 * red, green, blue, white (EDID 1.4, 3.7). */
	static const uint16_t chroma[8] = { 655, 338, 307, 614, 154, 61, 320, 337 };
	/* Physical size as if at 96 dpi, so that DPI-aware guests scale 1:1. */
	uint32_t w_mm = width * 254 / 960, h_mm = height * 254 / 960;
	uint8_t sum = 0;

	memset(edid, 0, VIRTIO_GPU_EDID_SIZE);
	memcpy(edid, "\x00\xff\xff\xff\xff\xff\xff\x00", 8);
	/* Manufacturer "AVP": three 5-bit letters, big-endian (3.4.1). */
	edid[8] = (uint8_t)((('A' - '@') << 2) | (('V' - '@') >> 3));
	edid[9] = (uint8_t)((('V' - '@') & 7) << 5 | ('P' - '@'));
	put_le16(edid + 10, 0x0001); /* product code */
	edid[16] = 0;		      /* week: unspecified */
	edid[17] = 2026 - 1990;	      /* model year, fixed so the blob is stable */
	edid[18] = 1;		      /* EDID 1.4 */
	edid[19] = 4;
	edid[20] = 0xa0; /* digital input, 8 bits per colour */
	edid[21] = (uint8_t)((w_mm + 5) / 10 ? (w_mm + 5) / 10 : 1); /* cm */
	edid[22] = (uint8_t)((h_mm + 5) / 10 ? (h_mm + 5) / 10 : 1);
	edid[23] = 120;	 /* gamma 2.2 */
	edid[24] = 0x06; /* RGB 4:4:4, sRGB default, preferred timing is native */
	edid[25] = (uint8_t)((chroma[0] & 3) << 6 | (chroma[1] & 3) << 4 | (chroma[2] & 3) << 2 |
			     (chroma[3] & 3));
	edid[26] = (uint8_t)((chroma[4] & 3) << 6 | (chroma[5] & 3) << 4 | (chroma[6] & 3) << 2 |
			     (chroma[7] & 3));
	for (int i = 0; i < 8; i++)
		edid[27 + i] = (uint8_t)(chroma[i] >> 2);
	/* No established timings (35-37); standard timings unused (38-53). */
	for (int i = 38; i < 54; i++)
		edid[i] = 0x01;
	edid_timing(edid + 54, width, height, w_mm, h_mm);
	edid_text(edid + 72, 0xfc, "AVP display"); /* product name */
	edid_text(edid + 90, 0xfe, "virtio-gpu");  /* unspecified text */
	edid[108 + 3] = 0x10;			   /* dummy descriptor, all zero */
	edid[126] = 0; /* no extension blocks */
	for (unsigned int i = 0; i < VIRTIO_GPU_EDID_SIZE - 1; i++)
		sum = (uint8_t)(sum + edid[i]);
	edid[127] = (uint8_t)(0x100 - sum); /* all 128 bytes sum to 0 mod 256 */
}

/* ---- controlq ---- */

/* Writes a response: its header gets type and, from the request, the
 * fence (5.7.6.7) and ring index. Returns the bytes written. */
static uint32_t respond(const struct virtq_chain *c, const struct virtio_gpu_ctrl_hdr *req,
			void *resp, size_t len, uint32_t type)
{
	struct virtio_gpu_ctrl_hdr *h = resp;
	uint32_t flags = req ? le32toh(req->flags) : 0;

	memset(h, 0, sizeof(*h));
	h->type = htole32(type);
	if (flags & VIRTIO_GPU_FLAG_FENCE) {
		h->flags |= htole32(VIRTIO_GPU_FLAG_FENCE);
		h->fence_id = req->fence_id;
	}
	if (flags & VIRTIO_GPU_FLAG_INFO_RING_IDX) {
		h->flags |= htole32(VIRTIO_GPU_FLAG_INFO_RING_IDX);
		h->ring_idx = req->ring_idx;
	}
	if (req)
		h->ctx_id = req->ctx_id;
	return (uint32_t)virtq_chain_write(c, 0, resp, len);
}

static uint32_t respond_code(const struct virtq_chain *c, const struct virtio_gpu_ctrl_hdr *req,
			     uint32_t type)
{
	struct virtio_gpu_ctrl_hdr h;

	return respond(c, req, &h, sizeof(h), type);
}

/* The command's fixed part, or false when the request is shorter. The
 * error answer to a short request still echoes its header's fence
 * (5.7.6.7: every fenced request gets its fence back, or the driver waits
 * for it forever), so handlers get the header ctrl_request read. */
static bool read_cmd(const struct virtq_chain *c, void *cmd, size_t len)
{
	return c->out_bytes >= len && virtq_chain_read(c, 0, cmd, len) == len;
}

static void rect_from_le(struct virtio_gpu_rect *r)
{
	r->x = le32toh(r->x);
	r->y = le32toh(r->y);
	r->width = le32toh(r->width);
	r->height = le32toh(r->height);
}

static uint32_t cmd_display_info(struct vgpu *g, const struct virtq_chain *c,
				 const struct virtio_gpu_ctrl_hdr *req)
{
	struct virtio_gpu_resp_display_info resp;

	memset(&resp, 0, sizeof(resp));
	resp.pmodes[0].r.width = htole32(g->width);
	resp.pmodes[0].r.height = htole32(g->height);
	resp.pmodes[0].enabled = htole32(1);
	return respond(c, req, &resp, sizeof(resp), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
}

static uint32_t cmd_get_edid(struct vgpu *g, const struct virtq_chain *c,
			     const struct virtio_gpu_ctrl_hdr *hdr)
{
	struct virtio_gpu_get_edid cmd;
	struct virtio_gpu_resp_edid resp;

	if (!read_cmd(c, &cmd, sizeof(cmd)))
		return respond_code(c, hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	if (!virtio_has_feature(&g->dev, VIRTIO_GPU_F_EDID))
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	if (le32toh(cmd.scanout) != 0)
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	memset(&resp, 0, sizeof(resp));
	resp.size = htole32(VIRTIO_GPU_EDID_SIZE);
	memcpy(resp.edid, g->edid, VIRTIO_GPU_EDID_SIZE);
	return respond(c, &cmd.hdr, &resp, sizeof(resp), VIRTIO_GPU_RESP_OK_EDID);
}

static uint32_t cmd_create_2d(struct vgpu *g, const struct virtq_chain *c,
			      const struct virtio_gpu_ctrl_hdr *hdr)
{
	struct virtio_gpu_resource_create_2d cmd;
	uint32_t code;

	if (!read_cmd(c, &cmd, sizeof(cmd)))
		return respond_code(c, hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	code = gpu_res_create(&g->res, le32toh(cmd.resource_id), le32toh(cmd.format),
			      le32toh(cmd.width), le32toh(cmd.height));
	if (code != VIRTIO_GPU_RESP_OK_NODATA)
		avp_debug("virtio-gpu: create %u (%ux%u format %u): error 0x%x",
			  le32toh(cmd.resource_id), le32toh(cmd.width), le32toh(cmd.height),
			  le32toh(cmd.format), code);
	return respond_code(c, &cmd.hdr, code);
}

static uint32_t cmd_unref(struct vgpu *g, const struct virtq_chain *c,
			  const struct virtio_gpu_ctrl_hdr *hdr)
{
	struct virtio_gpu_resource_unref cmd;
	uint32_t id;

	if (!read_cmd(c, &cmd, sizeof(cmd)))
		return respond_code(c, hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	id = le32toh(cmd.resource_id);
	/* The scanout stops showing a resource that is gone. */
	if (gpu_res_find(&g->res, id) && g->scanout.resource_id == id)
		memset(&g->scanout, 0, sizeof(g->scanout));
	return respond_code(c, &cmd.hdr, gpu_res_unref(&g->res, id));
}

static uint32_t cmd_set_scanout(struct vgpu *g, const struct virtq_chain *c,
				const struct virtio_gpu_ctrl_hdr *hdr)
{
	struct virtio_gpu_set_scanout cmd;
	struct gpu_resource *res;
	uint32_t id;

	if (!read_cmd(c, &cmd, sizeof(cmd)))
		return respond_code(c, hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	rect_from_le(&cmd.r);
	if (le32toh(cmd.scanout_id) != 0)
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	id = le32toh(cmd.resource_id);
	if (id == 0) { /* disables the scanout (5.7.6.8) */
		memset(&g->scanout, 0, sizeof(g->scanout));
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_OK_NODATA);
	}
	res = gpu_res_find(&g->res, id);
	if (!res)
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	/* "Scanout rectangles must be completely covered by the underlying
	 * resource" (5.7.6.8). */
	if (!cmd.r.width || !cmd.r.height || !gpu_rect_inside(res, &cmd.r))
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	g->scanout.resource_id = id;
	g->scanout.r = cmd.r;
	return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_OK_NODATA);
}

static uint32_t cmd_flush(struct vgpu *g, const struct virtq_chain *c,
			  const struct virtio_gpu_ctrl_hdr *hdr)
{
	struct virtio_gpu_resource_flush cmd;
	struct gpu_resource *res;

	if (!read_cmd(c, &cmd, sizeof(cmd)))
		return respond_code(c, hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	rect_from_le(&cmd.r);
	res = gpu_res_find(&g->res, le32toh(cmd.resource_id));
	if (!res)
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	if (!gpu_rect_inside(res, &cmd.r))
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* The screenshot reads the resource itself, so there is nothing to
	 * copy; the count shows the guest presents frames. */
	if (g->scanout.resource_id == res->id)
		g->scanout.flushes++;
	return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_OK_NODATA);
}

static uint32_t cmd_transfer_2d(struct vgpu *g, const struct virtq_chain *c,
				const struct virtio_gpu_ctrl_hdr *hdr, uint64_t *copied)
{
	struct virtio_gpu_transfer_to_host_2d cmd;
	struct gpu_resource *res;
	uint32_t code;

	if (!read_cmd(c, &cmd, sizeof(cmd)))
		return respond_code(c, hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	rect_from_le(&cmd.r);
	res = gpu_res_find(&g->res, le32toh(cmd.resource_id));
	if (!res)
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	code = gpu_res_transfer_to_host(res, &cmd.r, le64toh(cmd.offset), g->dev.mem, copied);
	if (code != VIRTIO_GPU_RESP_OK_NODATA)
		avp_debug("virtio-gpu: transfer to %u (%ux%u+%u+%u offset %llu): error 0x%x",
			  res->id, cmd.r.width, cmd.r.height, cmd.r.x, cmd.r.y,
			  (unsigned long long)le64toh(cmd.offset), code);
	return respond_code(c, &cmd.hdr, code);
}

/* Reads the entries that follow the command, a page of them at a time
 * (virtq_chain_read walks the chain from its start on every call). */
static bool read_entries(const struct virtq_chain *c, size_t off, struct gpu_backing_entry *ents,
			 uint32_t n)
{
	struct virtio_gpu_mem_entry buf[256];

	for (uint32_t done = 0; done < n;) {
		uint32_t k = n - done < 256 ? n - done : 256;
		size_t bytes = (size_t)k * sizeof(buf[0]);

		if (virtq_chain_read(c, off, buf, bytes) != bytes)
			return false;
		for (uint32_t i = 0; i < k; i++) {
			ents[done + i].gpa = le64toh(buf[i].addr);
			ents[done + i].len = le32toh(buf[i].length);
		}
		off += bytes;
		done += k;
	}
	return true;
}

static uint32_t cmd_attach_backing(struct vgpu *g, const struct virtq_chain *c,
				   const struct virtio_gpu_ctrl_hdr *hdr)
{
	struct virtio_gpu_resource_attach_backing cmd;
	struct gpu_backing_entry *ents;
	struct gpu_resource *res;
	uint32_t n, code;

	if (!read_cmd(c, &cmd, sizeof(cmd)))
		return respond_code(c, hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	res = gpu_res_find(&g->res, le32toh(cmd.resource_id));
	if (!res)
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	n = le32toh(cmd.nr_entries);
	/* The entries must be in the request: checked before allocating, so
	 * a large nr_entries costs nothing unless the guest sent them. */
	if ((c->out_bytes - sizeof(cmd)) / sizeof(struct virtio_gpu_mem_entry) < n)
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	code = gpu_res_backing_new(&g->res, n, &ents);
	if (code != VIRTIO_GPU_RESP_OK_NODATA)
		return respond_code(c, &cmd.hdr, code);
	if (!read_entries(c, sizeof(cmd), ents, n))
		code = VIRTIO_GPU_RESP_ERR_UNSPEC;
	else
		code = gpu_res_attach_backing(res, ents, n, g->dev.mem);
	if (code != VIRTIO_GPU_RESP_OK_NODATA) {
		avp_debug("virtio-gpu: attach %u entries to %u: error 0x%x", n, res->id, code);
		gpu_res_backing_free(&g->res, ents, n);
	}
	return respond_code(c, &cmd.hdr, code);
}

static uint32_t cmd_detach_backing(struct vgpu *g, const struct virtq_chain *c,
				   const struct virtio_gpu_ctrl_hdr *hdr)
{
	struct virtio_gpu_resource_unref cmd; /* same layout as detach_backing */
	struct gpu_resource *res;

	if (!read_cmd(c, &cmd, sizeof(cmd)))
		return respond_code(c, hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	res = gpu_res_find(&g->res, le32toh(cmd.resource_id));
	if (!res)
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	return respond_code(c, &cmd.hdr, gpu_res_detach_backing(&g->res, res));
}

/* One controlq request; returns the bytes written into the chain.
 * *copied counts transfer bytes against the wakeup's budget. */
static uint32_t ctrl_request(struct vgpu *g, const struct virtq_chain *c, uint64_t *copied)
{
	struct virtio_gpu_ctrl_hdr hdr;

	*copied = 0;
	if (!read_cmd(c, &hdr, sizeof(hdr)))
		return respond_code(c, NULL, VIRTIO_GPU_RESP_ERR_UNSPEC);
	switch (le32toh(hdr.type)) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
		return cmd_display_info(g, c, &hdr);
	case VIRTIO_GPU_CMD_GET_EDID:
		return cmd_get_edid(g, c, &hdr);
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
		return cmd_create_2d(g, c, &hdr);
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
		return cmd_unref(g, c, &hdr);
	case VIRTIO_GPU_CMD_SET_SCANOUT:
		return cmd_set_scanout(g, c, &hdr);
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
		return cmd_flush(g, c, &hdr);
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		return cmd_transfer_2d(g, c, &hdr, copied);
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		return cmd_attach_backing(g, c, &hdr);
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
		return cmd_detach_backing(g, c, &hdr);
	default:
		/* 3D, capsets (num_capsets is 0), blobs, and anything else. */
		avp_debug("virtio-gpu: unsupported command 0x%x", le32toh(hdr.type));
		return respond_code(c, &hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	}
}

/* ---- cursorq (5.7.6.10) ---- */

/* The cursor is accepted and remembered, not drawn: the screenshot shows
 * the scanout only. Linux posts cursor requests without a response
 * buffer; one that has a buffer gets a response. */
static uint32_t cursor_request(struct vgpu *g, const struct virtq_chain *c)
{
	struct virtio_gpu_update_cursor cmd;

	if (!read_cmd(c, &cmd, sizeof(cmd)))
		return respond_code(c, read_cmd(c, &cmd.hdr, sizeof(cmd.hdr)) ? &cmd.hdr : NULL,
				    VIRTIO_GPU_RESP_ERR_UNSPEC);
	switch (le32toh(cmd.hdr.type)) {
	case VIRTIO_GPU_CMD_UPDATE_CURSOR:
		g->cursor.resource_id = le32toh(cmd.resource_id);
		g->cursor.hot_x = le32toh(cmd.hot_x);
		g->cursor.hot_y = le32toh(cmd.hot_y);
		break;
	case VIRTIO_GPU_CMD_MOVE_CURSOR:
		break;
	default:
		return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_ERR_UNSPEC);
	}
	/* Both move the cursor; MOVE ignores the other fields. */
	g->cursor.x = le32toh(cmd.pos.x);
	g->cursor.y = le32toh(cmd.pos.y);
	return respond_code(c, &cmd.hdr, VIRTIO_GPU_RESP_OK_NODATA);
}

/* ---- queue work ---- */

struct budget {
	unsigned int cmds;
	uint64_t bytes;
};

static bool budget_left(const struct budget *b)
{
	return b->cmds < VIRTIO_GPU_BUDGET && b->bytes < VIRTIO_GPU_BUDGET_BYTES;
}

static void queue_work(struct vgpu *g, uint16_t q, struct budget *b)
{
	struct virtio_dev *dev = &g->dev;

	g->pending_queues &= ~(1u << q);
	while (dev->vqs[q].ready) {
		uint64_t copied = 0;
		uint32_t written = 0;
		int ret;

		if (!budget_left(b)) {
			g->pending_queues |= 1u << q;
			dev_resched_request(&g->resched);
			return;
		}
		ret = virtq_pop(&dev->vqs[q], &g->chain);
		if (ret == 0)
			return;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "ring is broken");
			dev_watch_set(dev, &g->resched.watch, false);
			return;
		}
		if (ret == 1)
			written = q == VIRTIO_GPU_CTRLQ ? ctrl_request(g, &g->chain, &copied)
							: cursor_request(g, &g->chain);
		/* A malformed chain is returned unanswered. */
		if (g->chain.head != UINT16_MAX)
			virtio_dev_complete(dev, q, g->chain.head, written);
		b->cmds++;
		b->bytes += copied;
	}
}

static void vgpu_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct budget b = { 0, 0 };

	if (q <= VIRTIO_GPU_CURSORQ)
		queue_work(vgpu_of(dev), q, &b);
}

static void vgpu_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vgpu *g = vgpu_of(dev);
	struct budget b = { 0, 0 };
	uint32_t pending = g->pending_queues;

	(void)events;
	if (!dev_resched_take(&g->resched, fd))
		return;
	/* Cursor first: it is the "fast track" (5.7.2). */
	if (pending & (1u << VIRTIO_GPU_CURSORQ))
		queue_work(g, VIRTIO_GPU_CURSORQ, &b);
	if (pending & (1u << VIRTIO_GPU_CTRLQ))
		queue_work(g, VIRTIO_GPU_CTRLQ, &b);
}

static int vgpu_activate(struct virtio_dev *dev)
{
	return dev_watch_set(dev, &vgpu_of(dev)->resched.watch, true);
}

static void vgpu_reset(struct virtio_dev *dev)
{
	struct vgpu *g = vgpu_of(dev);

	/* Resources live in the device: a reset forgets them all. */
	gpu_res_clear(&g->res);
	memset(&g->scanout, 0, sizeof(g->scanout));
	memset(&g->cursor, 0, sizeof(g->cursor));
	g->config.events_read = 0;
	g->pending_queues = 0;
	dev_watch_set(dev, &g->resched.watch, false);
	dev_resched_take(&g->resched, g->resched.watch.fd);
}

static void vgpu_destroy(struct virtio_dev *dev)
{
	struct vgpu *g = vgpu_of(dev);

	gpu_res_clear(&g->res);
	virtio_dev_fini(dev);
	dev_resched_fini(&g->resched);
	free(g);
}

static const struct virtio_dev_ops vgpu_ops = {
	.type = "virtio-gpu",
	.device_id = VIRTIO_ID_GPU,
	.num_queues = 2,
	.features = vgpu_features,
	.config_write = vgpu_config_write,
	.activate = vgpu_activate,
	.queue_notify = vgpu_queue_notify,
	.fd_ready = vgpu_fd_ready,
	.reset = vgpu_reset,
	.destroy = vgpu_destroy,
};

int virtio_gpu_create(struct virtio_dev **out, const struct avp_gpu_cfg *cfg)
{
	struct vgpu *g;
	int ret;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->width = cfg && cfg->width ? cfg->width : VIRTIO_GPU_DEFAULT_WIDTH;
	g->height = cfg && cfg->height ? cfg->height : VIRTIO_GPU_DEFAULT_HEIGHT;
	if (g->width < VIRTIO_GPU_MIN_DISPLAY_DIM || g->height < VIRTIO_GPU_MIN_DISPLAY_DIM ||
	    g->width > VIRTIO_GPU_MAX_DISPLAY_DIM || g->height > VIRTIO_GPU_MAX_DISPLAY_DIM ||
	    (uint64_t)g->width * g->height > VIRTIO_GPU_MAX_DISPLAY_PIXELS) {
		avp_err("virtio-gpu: display %ux%u is out of range", g->width, g->height);
		free(g);
		return -EINVAL;
	}
	ret = dev_resched_init(&g->resched);
	if (ret) {
		avp_err("virtio-gpu: eventfd: %s", strerror(-ret));
		free(g);
		return ret;
	}
	virtio_gpu_make_edid(g->edid, g->width, g->height);
	g->config.num_scanouts = htole32(1);
	g->config.num_capsets = 0;
	virtio_dev_init(&g->dev, &vgpu_ops, g, &g->config, sizeof(g->config));
	*out = &g->dev;
	return 0;
}

/* ---- screenshot ---- */

/* Copies what scanout 0 shows into a fresh RGB buffer (dev->lock held). */
static int snapshot(struct vgpu *g, uint8_t **rgb_out, uint32_t *w_out, uint32_t *h_out)
{
	const struct gpu_resource *res = NULL;
	uint32_t w = g->width, h = g->height;
	unsigned int off[3];
	uint8_t *rgb;

	if (g->scanout.resource_id)
		res = gpu_res_find(&g->res, g->scanout.resource_id);
	if (res) {
		w = g->scanout.r.width;
		h = g->scanout.r.height;
	}
	/* At most 3/4 of VIRTIO_GPU_MAX_HOST_BYTES: the rectangle lies in
	 * a resource, which fits in the budget. */
	rgb = calloc((size_t)w * h, 3);
	if (!rgb)
		return -ENOMEM;
	if (res) {
		gpu_format_rgb_offsets(res->format, off);
		for (uint32_t y = 0; y < h; y++) {
			const uint8_t *src = res->pixels +
					     (uint64_t)(g->scanout.r.y + y) * res->stride +
					     (uint64_t)g->scanout.r.x * 4;
			uint8_t *dst = rgb + (size_t)y * w * 3;

			for (uint32_t x = 0; x < w; x++, src += 4, dst += 3) {
				dst[0] = src[off[0]];
				dst[1] = src[off[1]];
				dst[2] = src[off[2]];
			}
		}
	}
	*rgb_out = rgb;
	*w_out = w;
	*h_out = h;
	return 0;
}

static void png_error_fn(png_structp png, png_const_charp msg)
{
	avp_warn("virtio-gpu: screenshot: libpng: %s", msg);
	png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
	(void)png;
	avp_debug("virtio-gpu: screenshot: libpng: %s", msg);
}

static int write_png(FILE *f, const uint8_t *rgb, uint32_t w, uint32_t h)
{
	png_structp png;
	png_infop info;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_fn, png_warning_fn);
	if (!png)
		return -ENOMEM;
	info = png_create_info_struct(png);
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return -ENOMEM;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -EIO;
	}
	png_init_io(png, f);
	/* Fast over small: screenshots are taken while the guest runs, and
	 * unfiltered rows keep the file trivial to decode for test scripts;
	 * flat screen content compresses well regardless. */
	png_set_compression_level(png, 1);
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
	png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (uint32_t y = 0; y < h; y++)
		png_write_row(png, rgb + (size_t)y * w * 3);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}

/* Writes next to path and renames, so readers never see half a PNG. */
static int write_png_file(const char *path, const uint8_t *rgb, uint32_t w, uint32_t h)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 8);
	FILE *f;
	int fd, ret;

	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".XXXXXX", 8);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		free(tmp);
		return ret;
	}
	/* mkostemp makes the file 0600; a screenshot is an ordinary file. */
	if (fchmod(fd, 0644) < 0)
		avp_debug("virtio-gpu: screenshot: chmod %s: %s", tmp, strerror(errno));
	f = fdopen(fd, "wb");
	if (!f) {
		ret = -errno;
		close(fd);
		goto fail;
	}
	ret = write_png(f, rgb, w, h);
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret == 0) {
		free(tmp);
		return 0;
	}
fail:
	unlink(tmp);
	free(tmp);
	return ret;
}

int virtio_gpu_screenshot(struct virtio_dev *dev, const char *path, uint32_t *width,
			  uint32_t *height)
{
	uint8_t *rgb;
	uint32_t w, h;
	int ret;

	if (!dev || dev->ops != &vgpu_ops || !path || !*path)
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	ret = snapshot(vgpu_of(dev), &rgb, &w, &h);
	pthread_mutex_unlock(&dev->lock);
	if (ret)
		return ret;
	/* Encoding and writing happen without the lock: the guest goes on. */
	ret = write_png_file(path, rgb, w, h);
	free(rgb);
	if (ret == 0) {
		if (width)
			*width = w;
		if (height)
			*height = h;
	}
	return ret;
}

int virtio_gpu_screenshot_png(struct virtio_dev *dev, const char *path)
{
	return virtio_gpu_screenshot(dev, path, NULL, NULL);
}

static int api_fail(struct json_object *reply, int err, const char *msg)
{
	json_object_object_add(reply, "error", json_object_new_string(msg));
	return err;
}

int virtio_gpu_api_screenshot(void *opaque, struct json_object *args, struct json_object *reply)
{
	struct json_object *jpath = NULL;
	const char *path;
	char msg[512];
	uint32_t w, h;
	int ret;

	if (!args || !json_object_object_get_ex(args, "path", &jpath) ||
	    !json_object_is_type(jpath, json_type_string))
		return api_fail(reply, -EINVAL,
				"screenshot needs args {\"path\": \"/absolute/file.png\"}");
	path = json_object_get_string(jpath);
	/* avp's working directory is no concern of the client's. */
	if (path[0] != '/') {
		snprintf(msg, sizeof(msg), "screenshot: path '%s' is not absolute", path);
		return api_fail(reply, -EINVAL, msg);
	}
	ret = virtio_gpu_screenshot(opaque, path, &w, &h);
	if (ret) {
		snprintf(msg, sizeof(msg), "screenshot: cannot write '%s': %s", path,
			 strerror(-ret));
		return api_fail(reply, ret, msg);
	}
	json_object_object_add(reply, "path", json_object_new_string(path));
	json_object_object_add(reply, "width", json_object_new_int((int32_t)w));
	json_object_object_add(reply, "height", json_object_new_int((int32_t)h));
	return 0;
}

int virtio_gpu_register_api(struct vm *vm, struct virtio_dev *dev)
{
	int ret = vm_api_register(vm, "screenshot", virtio_gpu_api_screenshot, dev);

	if (ret)
		avp_err("virtio-gpu: cannot register the screenshot command: %s", strerror(-ret));
	return ret;
}
