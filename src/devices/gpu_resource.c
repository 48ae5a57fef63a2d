/* virtio-gpu 2D resources: creation within the host budget, backing
 * pages, and guest-to-host transfers (VIRTIO 1.2, 5.7.6.8).
 *
 * Every size here comes from the guest. Widths and heights are capped
 * before any product is formed (so products of two of them fit easily in
 * 64 bits), and every offset the guest gives is compared by subtraction,
 * never by an addition that could wrap. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/gpu_resource.h"

unsigned int gpu_format_bpp(uint32_t format)
{
	switch (format) {
	case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM:
	case VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM:
	case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM:
	case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM:
	case VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM:
	case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM:
	case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM:
	case VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM:
		return 4;
	default:
		return 0;
	}
}

void gpu_format_rgb_offsets(uint32_t format, unsigned int off[3])
{
	/* The format's name spells its bytes in memory order. */
	switch (format) {
	case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM:
	case VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM:
		off[0] = 2, off[1] = 1, off[2] = 0;
		break;
	case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM:
	case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM:
		off[0] = 1, off[1] = 2, off[2] = 3;
		break;
	case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM:
	case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM:
		off[0] = 3, off[1] = 2, off[2] = 1;
		break;
	default: /* R8G8B8A8, R8G8B8X8 */
		off[0] = 0, off[1] = 1, off[2] = 2;
		break;
	}
}

struct gpu_resource *gpu_res_find(const struct gpu_resources *t, uint32_t id)
{
	for (unsigned int i = 0; i < t->count; i++)
		if (t->res[i]->id == id)
			return t->res[i];
	return NULL;
}

/* Takes bytes from the budget, or says there is not enough. */
static bool charge(struct gpu_resources *t, uint64_t bytes)
{
	if (bytes > VIRTIO_GPU_MAX_HOST_BYTES - t->bytes)
		return false;
	t->bytes += bytes;
	return true;
}

static uint64_t pixel_bytes(const struct gpu_resource *res)
{
	return res->stride * res->height;
}

uint32_t gpu_res_create(struct gpu_resources *t, uint32_t id, uint32_t format, uint32_t width,
			uint32_t height)
{
	unsigned int bpp = gpu_format_bpp(format);
	struct gpu_resource *res;

	/* Id 0 means "no resource" in SET_SCANOUT (5.7.6.8). */
	if (id == 0 || gpu_res_find(t, id))
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!bpp || !width || !height || width > VIRTIO_GPU_MAX_RESOURCE_DIM ||
	    height > VIRTIO_GPU_MAX_RESOURCE_DIM)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (t->count >= VIRTIO_GPU_MAX_RESOURCES)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	res = calloc(1, sizeof(*res));
	if (!res)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	res->id = id;
	res->format = format;
	res->width = width;
	res->height = height;
	res->stride = (uint64_t)width * bpp;
	if (!charge(t, pixel_bytes(res))) {
		free(res);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	/* Fresh resources read as black (transparent) until transferred. */
	res->pixels = calloc(1, pixel_bytes(res));
	if (!res->pixels) {
		t->bytes -= pixel_bytes(res);
		free(res);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	t->res[t->count++] = res;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static void free_backing(struct gpu_resources *t, struct gpu_resource *res)
{
	gpu_res_backing_free(t, res->backing, res->nbacking);
	res->backing = NULL;
	res->nbacking = 0;
	res->backing_len = 0;
}

static void free_resource(struct gpu_resources *t, struct gpu_resource *res)
{
	free_backing(t, res);
	t->bytes -= pixel_bytes(res);
	free(res->pixels);
	free(res);
}

uint32_t gpu_res_unref(struct gpu_resources *t, uint32_t id)
{
	for (unsigned int i = 0; i < t->count; i++) {
		if (t->res[i]->id != id)
			continue;
		/* Unref detaches the backing implicitly: Linux sends no
		 * DETACH_BACKING before it. */
		free_resource(t, t->res[i]);
		t->res[i] = t->res[--t->count];
		t->res[t->count] = NULL;
		return VIRTIO_GPU_RESP_OK_NODATA;
	}
	return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
}

void gpu_res_clear(struct gpu_resources *t)
{
	while (t->count) {
		free_resource(t, t->res[--t->count]);
		t->res[t->count] = NULL;
	}
}

uint32_t gpu_res_backing_new(struct gpu_resources *t, uint32_t n, struct gpu_backing_entry **out)
{
	*out = NULL;
	if (n == 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (n > VIRTIO_GPU_MAX_BACKING_ENTRIES || !charge(t, (uint64_t)n * sizeof(**out)))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	*out = calloc(n, sizeof(**out));
	if (!*out) {
		t->bytes -= (uint64_t)n * sizeof(**out);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}

void gpu_res_backing_free(struct gpu_resources *t, struct gpu_backing_entry *ents, uint32_t n)
{
	if (!ents)
		return;
	t->bytes -= (uint64_t)n * sizeof(*ents);
	free(ents);
}

uint32_t gpu_res_attach_backing(struct gpu_resource *res, struct gpu_backing_entry *ents,
				uint32_t n, const struct guest_mem *mem)
{
	uint64_t total = 0;

	/* A second attach without a detach is a driver bug; keep the first. */
	if (res->backing)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	for (uint32_t i = 0; i < n; i++) {
		/* Checked now so that the driver hears about a bad page at
		 * once; transfers map each entry through gm_ptr again. */
		if (!gm_ptr(mem, ents[i].gpa, ents[i].len))
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		total += ents[i].len; /* at most 2^16 * 2^32: no overflow */
	}
	res->backing = ents;
	res->nbacking = n;
	res->backing_len = total;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

uint32_t gpu_res_detach_backing(struct gpu_resources *t, struct gpu_resource *res)
{
	if (!res->backing)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	free_backing(t, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

bool gpu_rect_inside(const struct gpu_resource *res, const struct virtio_gpu_rect *r)
{
	return r->x <= res->width && r->width <= res->width - r->x && r->y <= res->height &&
	       r->height <= res->height - r->y;
}

/* Walks the backing table forward: rows are copied in increasing offset
 * order, so each entry is passed once per transfer. */
struct backing_cursor {
	uint32_t idx;
	uint64_t start; /* backing offset of entry idx */
};

static int copy_from_backing(const struct gpu_resource *res, const struct guest_mem *mem,
			     struct backing_cursor *c, uint64_t off, uint8_t *dst, uint64_t len)
{
	while (len) {
		const struct gpu_backing_entry *e;
		uint64_t in_entry, piece;
		const void *src;

		while (c->idx < res->nbacking && off - c->start >= res->backing[c->idx].len) {
			c->start += res->backing[c->idx].len;
			c->idx++;
		}
		if (c->idx >= res->nbacking)
			return -EFAULT; /* the caller checked the length: cannot happen */
		e = &res->backing[c->idx];
		in_entry = off - c->start;
		piece = e->len - in_entry;
		if (piece > len)
			piece = len;
		src = gm_ptr(mem, e->gpa + in_entry, piece);
		if (!src)
			return -EFAULT;
		memcpy(dst, src, piece);
		dst += piece;
		off += piece;
		len -= piece;
	}
	return 0;
}

uint32_t gpu_res_transfer_to_host(struct gpu_resource *res, const struct virtio_gpu_rect *r,
				  uint64_t offset, const struct guest_mem *mem, uint64_t *copied)
{
	unsigned int bpp = gpu_format_bpp(res->format);
	struct backing_cursor cur = { 0, 0 };
	uint64_t row_bytes, span;

	if (copied)
		*copied = 0;
	if (!res->backing)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	if (!gpu_rect_inside(res, r))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (!r->width || !r->height)
		return VIRTIO_GPU_RESP_OK_NODATA;
	/* Both below the resource size (at most 1 GiB), so no overflow. */
	row_bytes = (uint64_t)r->width * bpp;
	span = (uint64_t)(r->height - 1) * res->stride + row_bytes;
	if (offset > res->backing_len || span > res->backing_len - offset)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	for (uint32_t row = 0; row < r->height; row++) {
		uint8_t *dst = res->pixels + (uint64_t)(r->y + row) * res->stride +
			       (uint64_t)r->x * bpp;

		if (copy_from_backing(res, mem, &cur, offset + (uint64_t)row * res->stride, dst,
				      row_bytes))
			return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
	if (copied)
		*copied = (uint64_t)r->height * row_bytes;
	return VIRTIO_GPU_RESP_OK_NODATA;
}
