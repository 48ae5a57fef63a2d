/* virtio-gpu 2D resources (VIRTIO 1.2, 5.7.6): host-side pixel storage,
 * the guest pages backing each resource, and the transfers between them.
 * Private to src/devices/virtio_gpu.c (and its tests).
 *
 * Functions that answer a guest command return a VIRTIO_GPU_RESP_* code. */
#ifndef AVP_DEVICES_GPU_RESOURCE_H
#define AVP_DEVICES_GPU_RESOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "avp/devices/virtio_gpu.h"
#include "avp/guest_mem.h"

/* One backing segment as the guest gave it. We keep the guest address,
 * not a host pointer, and map it through gm_ptr at every transfer. */
struct gpu_backing_entry {
	uint64_t gpa;
	uint32_t len;
};

struct gpu_resource {
	uint32_t id;
	uint32_t format;
	uint32_t width;
	uint32_t height;
	uint64_t stride; /* bytes per row, host side and in the backing */
	uint8_t *pixels; /* stride * height bytes */
	struct gpu_backing_entry *backing;
	uint32_t nbacking;
	uint64_t backing_len; /* sum of the entries' lengths */
};

struct gpu_resources {
	struct gpu_resource *res[VIRTIO_GPU_MAX_RESOURCES];
	unsigned int count;
	uint64_t bytes; /* pixels + backing tables of every resource */
};

/* Bytes per pixel of a supported format, or 0 for one we do not know. */
unsigned int gpu_format_bpp(uint32_t format);
/* Where R, G and B sit within a pixel of format (which must be known). */
void gpu_format_rgb_offsets(uint32_t format, unsigned int off[3]);

struct gpu_resource *gpu_res_find(const struct gpu_resources *t, uint32_t id);

uint32_t gpu_res_create(struct gpu_resources *t, uint32_t id, uint32_t format, uint32_t width,
			uint32_t height);
/* Frees the resource and its backing table. */
uint32_t gpu_res_unref(struct gpu_resources *t, uint32_t id);
/* Drops every resource (device reset, destroy). */
void gpu_res_clear(struct gpu_resources *t);

/* Reserves the budget for a backing table of n entries and allocates it. */
uint32_t gpu_res_backing_new(struct gpu_resources *t, uint32_t n, struct gpu_backing_entry **out);
/* Gives back a table that was not attached, with its budget. */
void gpu_res_backing_free(struct gpu_resources *t, struct gpu_backing_entry *ents, uint32_t n);
/* Checks that every entry is guest RAM and attaches the table to res,
 * which then owns it. On failure the caller still owns ents. */
uint32_t gpu_res_attach_backing(struct gpu_resource *res, struct gpu_backing_entry *ents,
				uint32_t n, const struct guest_mem *mem);
uint32_t gpu_res_detach_backing(struct gpu_resources *t, struct gpu_resource *res);

/* True when r lies inside res (overflow-safe). */
bool gpu_rect_inside(const struct gpu_resource *res, const struct virtio_gpu_rect *r);

/* Copies rectangle r from the backing into the resource. The backing
 * holds rows of res->stride bytes; offset is where r's first pixel is.
 * *copied (optional) receives the bytes copied. */
uint32_t gpu_res_transfer_to_host(struct gpu_resource *res, const struct virtio_gpu_rect *r,
				  uint64_t offset, const struct guest_mem *mem, uint64_t *copied);

#endif
